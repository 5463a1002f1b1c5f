"""The demo site in the database: the demo institution, its care teams, demo users with
generated passwords, the integration client's API token, and loading the synthetic cohort.

Passwords are random on first creation and stored hashed; the only clear copy is the
credentials file (settings.VAR_DIR/demo-credentials.txt, mode 600), which `demo_setup` prints.
If the file is lost, the demo users get new passwords and the file is rewritten; if the
database is reset, the users are recreated with new passwords. Either way the file and the
database agree after every run.
"""

from __future__ import annotations

import os
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from rest_framework.authtoken.models import Token

from core.models import Role, User
from core.services import administrator_access_grant
from oncology.demo.cohort import DEFAULT_PATIENTS, DEFAULT_SEED, generate_cohort
from oncology.demo.tumours import CARE_TEAMS
from oncology.models import CareTeam, Institution, Patient
from oncology.services.sync import patient_records_bulk_upsert

DEMO_INSTITUTION_NAME = "Demo Cancer Centre (synthetic data)"
DEMO_URL = "http://127.0.0.1:8000"
CREDENTIALS_FILENAME = "demo-credentials.txt"
INTEGRATION_USERNAME = "demo-integration"
SYNTHETIC_NOTICE = "SYNTHETIC DEMO DATA - not real patients"


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    in_all_teams: bool


# The data manager joins the teams too: a data manager who can see no patient cannot show what
# the role does. The administrator browses the audit trail and sees no patient.
DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("demo-oncologist", Role.ONCOLOGIST, True),
    DemoUser("demo-clinician", Role.CLINICIAN, True),
    DemoUser("demo-datamanager", Role.DATA_MANAGER, True),
    DemoUser("demo-admin", Role.ADMINISTRATOR, False),
)


@dataclass
class DemoCredentials:
    passwords: dict[str, str] = field(default_factory=dict)  # username -> password
    roles: dict[str, str] = field(default_factory=dict)  # username -> role
    token: str = ""


class DemoCohortRejected(Exception):
    """The service refused generated records: the demo must pass the validation real data
    passes, so this is a bug in the generator (or in the validation)."""

    def __init__(self, errors: Sequence[tuple[str, dict[str, list[str]]]]) -> None:
        self.errors = list(errors)
        first = "; ".join(f"{mrn}: {errs}" for mrn, errs in self.errors[:5])
        super().__init__(f"{len(self.errors)} demo record(s) rejected. First: {first}")


def credentials_path() -> Path:
    return Path(settings.VAR_DIR) / CREDENTIALS_FILENAME


# ---------------------------------------------------------------------------------------------
# Institution, teams, users
# ---------------------------------------------------------------------------------------------


def demo_institution_ensure() -> tuple[Institution, dict[str, CareTeam]]:
    """The DEMO institution and its four care teams, created when missing."""
    institution, _ = Institution.objects.get_or_create(
        code=settings.DEMO_INSTITUTION_CODE, defaults={"name": DEMO_INSTITUTION_NAME}
    )
    teams = {}
    for code, name in CARE_TEAMS.items():
        teams[code], _ = CareTeam.objects.get_or_create(
            institution=institution, code=code, defaults={"name": name}
        )
    return institution, teams


def demo_integration_client_ensure(institution: Institution) -> tuple[User, str]:
    """The demo hospital-system client (token only, no password) and its API token."""
    user, created = User.objects.get_or_create(
        username=INTEGRATION_USERNAME,
        defaults={"role": Role.INTEGRATION, "institution": institution},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    _require_demo_user(user, Role.INTEGRATION, institution)
    token, _ = Token.objects.get_or_create(user=user)
    return user, token.key


def _require_demo_user(user: User, role: str, institution: Institution) -> None:
    # A same-named account of another institution or role is not ours to take over.
    if user.role != role or user.institution_id != institution.pk:
        raise RuntimeError(
            f"User {user.username!r} exists but is not the demo {role} of "
            f"{institution.code}; rename it or remove it before running demo_setup."
        )


def _new_password() -> str:
    return secrets.token_urlsafe(18)


def demo_users_ensure(
    *, institution: Institution, teams: dict[str, CareTeam], path: Path | None = None
) -> DemoCredentials:
    """Create the demo users (and the integration token) and return their credentials.

    A user whose password is not the one in the credentials file (first creation, lost file,
    recreated database) gets a new random password, and the file is rewritten.
    """
    path = path or credentials_path()
    stored = read_credentials(path)
    out = DemoCredentials()
    dirty = False
    for spec in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=spec.username, defaults={"role": spec.role, "institution": institution}
        )
        _require_demo_user(user, spec.role, institution)
        password = stored.passwords.get(spec.username)
        if created or not password or not user.check_password(password):
            password = _new_password()
            user.set_password(password)
            user.save(update_fields=["password"])
            dirty = True
        if spec.in_all_teams:
            for team in teams.values():
                team.members.add(user)
        if spec.role == Role.ADMINISTRATOR:
            administrator_access_grant(user=user)
        out.passwords[spec.username] = password
        out.roles[spec.username] = spec.role
    _, out.token = demo_integration_client_ensure(institution)
    if dirty or out.token != stored.token or not path.exists():
        write_credentials(path, out)
    return out


# ---------------------------------------------------------------------------------------------
# The credentials file
# ---------------------------------------------------------------------------------------------


def read_credentials(path: Path) -> DemoCredentials:
    """What the file holds; empty when it does not exist."""
    out = DemoCredentials()
    try:
        text = path.read_text()
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] == "user":
            out.passwords[parts[1]] = parts[3]
            out.roles[parts[1]] = parts[2]
        elif len(parts) == 3 and parts[0] == "token" and parts[1] == INTEGRATION_USERNAME:
            out.token = parts[2]
    return out


def write_credentials(path: Path, credentials: DemoCredentials) -> None:
    """Write the file readable by its owner only (created 600, never world-readable)."""
    lines = [
        f"# OncoBoard demo credentials. {SYNTHETIC_NOTICE}.",
        "# Generated by `manage.py demo_setup`; delete this file to get new passwords.",
        f"url {DEMO_URL}",
    ]
    lines += [
        f"user {username} {credentials.roles[username]} {password}"
        for username, password in credentials.passwords.items()
    ]
    lines.append(f"token {INTEGRATION_USERNAME} {credentials.token}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    os.chmod(tmp, 0o600)  # an existing tmp file keeps its old mode through O_CREAT
    os.replace(tmp, path)


def credentials_banner(credentials: DemoCredentials) -> str:
    width = 72
    rule = "=" * width
    lines = [
        rule,
        f"  OncoBoard demo - {SYNTHETIC_NOTICE}",
        rule,
        f"  Open {DEMO_URL} and sign in as:",
        "",
    ]
    for username, password in credentials.passwords.items():
        role = Role(credentials.roles[username]).label
        lines.append(f"    {role:<16} username: {username:<18} password: {password}")
    lines += [
        "",
        f"  API token ({INTEGRATION_USERNAME}, hospital-system client):",
        f"    Authorization: Token {credentials.token}",
        "",
        f"  Saved in {credentials_path()} (owner-only). {SYNTHETIC_NOTICE}.",
        rule,
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The cohort
# ---------------------------------------------------------------------------------------------


def demo_cohort_load(
    *, n_patients: int = DEFAULT_PATIENTS, seed: int = DEFAULT_SEED, batch_size: int = 100
) -> Counter[str]:
    """Generate the cohort and upsert it through the same service hospital systems use, as the
    demo integration client; then mark the institution's patients synthetic.

    All or nothing: raises DemoCohortRejected (and writes nothing) if any record is refused.
    Returns the count of records per result status ("created", "updated", "unchanged").
    """
    institution, _ = demo_institution_ensure()
    actor, _ = demo_integration_client_ensure(institution)
    records = generate_cohort(n_patients, seed)
    counts: Counter[str] = Counter()
    rejected: list[tuple[str, dict[str, list[str]]]] = []
    with transaction.atomic():
        for start in range(0, len(records), batch_size):
            batch = records[start : start + batch_size]
            results = patient_records_bulk_upsert(
                actor=actor, institution=institution, records=batch
            )
            for record, result in zip(batch, results, strict=True):
                counts[result.status] += 1
                if result.status == "error":
                    rejected.append((record["mrn"], result.errors))
        if rejected:
            raise DemoCohortRejected(rejected)
        Patient.objects.filter(institution=institution, is_synthetic=False).update(
            is_synthetic=True
        )
    return counts


def demo_has_patients() -> bool:
    return Patient.objects.filter(institution__code=settings.DEMO_INSTITUTION_CODE).exists()
