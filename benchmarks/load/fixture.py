"""The load test's world, in its own PostgreSQL database: the demo cohort and what the three
scenarios need (users with sessions, a hospital-system token, board meetings, CT series with
masks for radiomics). Runs in the harness's own process, with Django set up on that database.

Everything is synthetic. Sessions are created in the session store the way a login leaves
them, so the virtual users start logged in (the login itself, argon2 on purpose, is not what
is measured here).
"""

from __future__ import annotations

import datetime as dt
import io
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TEAMS = ("thoracic", "breast", "colorectal", "hepatobiliary")
CASES_PER_TEAM_MEETING = 8
# The radiomics series: a soft-tissue lesion with noise in lung-like tissue, CT-like spacing.
CT_SHAPE = (64, 192, 192)
CT_SPACING = (2.5, 0.8, 0.8)
LESION_RADIUS_MM = 30.0


def create_database(admin_url: str, name: str) -> str:
    """Create database ``name`` (dropping a leftover of the same name); its URL."""
    import psycopg

    if not name.replace("_", "").isalnum():
        raise SystemExit(f"not a plain database name: {name!r}")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))


def drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class VirtualUser:
    username: str
    role: str
    team: str
    session_key: str


@dataclass
class RadiomicsTarget:
    patient_public_id: str
    series_public_id: str
    mask_id: str


@dataclass
class World:
    session_cookie: str
    clinicians: list[VirtualUser]
    board_members: list[VirtualUser]
    team_patients: dict[str, list[str]]  # team code -> patient public ids
    team_cases: dict[str, list[str]]  # team code -> board case public ids
    team_meetings: dict[str, list[str]]  # team code -> meeting public ids
    board_case: str  # the demo meeting's first ready case (imaging, genomics, prediction)
    api_token: str  # the hospital system syncing
    research_token: str  # the hospital system's research pipeline requesting radiomics
    sync_patients: list[tuple[str, str]]  # (public id, MRN) of living patients
    radiomics: list[RadiomicsTarget] = field(default_factory=list)
    presets: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def _session_for(user: object) -> str:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)  # type: ignore[attr-defined]
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()  # type: ignore[attr-defined]
    store.create()
    return str(store.session_key)


def _people(prefix: str, count: int, teams: list[str], roles: list[str]) -> list[VirtualUser]:
    from django.conf import settings

    from core.models import User
    from oncology.models import CareTeam, Institution

    institution = Institution.objects.get(code=settings.DEMO_INSTITUTION_CODE)
    by_code = {t.code: t for t in CareTeam.objects.filter(institution=institution)}
    people = []
    for i in range(count):
        team, role = teams[i % len(teams)], roles[i % len(roles)]
        user = User.objects.create(
            username=f"{prefix}-{i + 1:02d}",
            role=role,
            institution=institution,
            first_name="Load",
            last_name=f"{prefix.title()} {i + 1:02d}",
        )
        user.set_unusable_password()
        user.save(update_fields=["password"])
        by_code[team].members.add(user)
        people.append(VirtualUser(user.username, role, team, _session_for(user)))
    return people


def _meetings(oncologist: object) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """One meeting per care team with CASES_PER_TEAM_MEETING of its living patients, plus the
    demo meeting (thoracic); predictions computed on referral, as the board page does."""
    from django.utils import timezone

    from oncology.models import Patient
    from oncology.models_board import BoardCase, Meeting
    from oncology.services import board

    cases: dict[str, list[str]] = {t: [] for t in TEAMS}
    meetings: dict[str, list[str]] = {t: [] for t in TEAMS}
    for team in TEAMS:
        meeting = board.meeting_create(
            user=oncologist,  # type: ignore[arg-type]
            values={
                "title": f"{team.title()} tumour board (load test)",
                "scheduled_for": timezone.now() + dt.timedelta(days=3),
                "location": "Seminar room 1",
            },
        )
        patients = Patient.objects.filter(
            care_teams__code=team, vital_status="alive", diagnoses__isnull=False
        ).distinct()
        for patient in patients.order_by("mrn")[:CASES_PER_TEAM_MEETING]:
            board.board_case_add(
                user=oncologist,  # type: ignore[arg-type]
                meeting=meeting,
                patient_public_id=patient.public_id,
                question="Next line of treatment?",
                presenter=oncologist,  # type: ignore[arg-type]
            )
        meetings[team].append(str(meeting.public_id))
    for case in BoardCase.objects.select_related("meeting").prefetch_related("patient__care_teams"):
        for team in case.patient.care_teams.all():
            if team.code in cases:
                cases[team.code].append(str(case.public_id))
    demo = Meeting.objects.filter(title__endswith="(demo)").first()
    if demo is not None:
        meetings["thoracic"].append(str(demo.public_id))
    return cases, meetings


def _ct_stored(rng: random.Random) -> object:
    import numpy as np

    generator = np.random.default_rng(rng.randrange(2**32))
    z, y, x = np.meshgrid(*(np.arange(n) for n in CT_SHAPE), indexing="ij")
    centre = [n // 2 for n in CT_SHAPE]
    d2 = sum(((a - c) * s) ** 2 for a, c, s in zip((z, y, x), centre, CT_SPACING, strict=True))
    lesion = d2 <= LESION_RADIUS_MM**2
    hu = np.where(lesion, 40.0, -800.0) + generator.normal(0.0, 15.0, CT_SHAPE)
    return (np.round(hu) + 1024).astype(np.int16)


def _radiomics_series(oncologist: object, count: int, seed: int) -> list[RadiomicsTarget]:
    """``count`` synthetic CT series (of living thoracic patients, in turn), each with a
    seed-grown mask of its lesion; no run is requested here (RADIOMICS_ON_NEW_MASKS is off in
    this process): scenario 2 requests them through the API."""
    from imaging.dicom.synthetic import synthetic_series
    from imaging.models import Series
    from imaging.services.ingest import dicom_ingest
    from imaging.services.masks import SeedParameters, mask_create_from_seed
    from oncology.models import Patient

    rng = random.Random(seed)
    patients = list(
        Patient.objects.filter(care_teams__code="thoracic", vital_status="alive")
        .distinct()
        .order_by("-mrn")[:count]
    )
    targets = []
    for index in range(count):  # a patient may have several series
        patient = patients[index % len(patients)]
        datasets = synthetic_series(_ct_stored(rng), spacing=CT_SPACING)  # type: ignore[arg-type]
        for ds in datasets:
            ds.PatientID = patient.mrn
            ds.StudyDate = "20250301"
            ds.Modality = "CT"
            ds.StudyDescription = "CT thorax (synthetic, load test)"
            buffer = io.BytesIO()
            ds.save_as(buffer, enforce_file_format=True)
            dicom_ingest(
                actor=oncologist,  # type: ignore[arg-type]
                institution=patient.institution,
                data=buffer.getvalue(),
                filename="load.dcm",
                channel="command",
                patient=patient,
                audit=False,
            )
        series = Series.objects.get(series_instance_uid=str(datasets[0].SeriesInstanceUID))
        mask = mask_create_from_seed(
            actor=oncologist,  # type: ignore[arg-type]
            patient=patient,
            series=series,
            parameters=SeedParameters(
                seed_zyx=tuple(n // 2 for n in CT_SHAPE),  # type: ignore[arg-type]
                low=-100.0,
                high=200.0,
                window_mm=4 * LESION_RADIUS_MM,
            ),
            label="GTV",
        )
        targets.append(
            RadiomicsTarget(str(patient.public_id), str(series.public_id), mask.public_id.hex)
        )
    return targets


def build_world(*, patients: int, radiomics_series: int, seed: int = 20261124) -> World:
    """Migrate, load the demo cohort, then add the scenarios' users, meetings and series."""
    from django.conf import settings
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from core.models import Role, User
    from imaging.services.radiomics import REQUESTABLE_PRESETS
    from oncology.models import Institution, Patient
    from oncology.models_board import BoardCase, Meeting

    timings: dict[str, float] = {}
    start = time.perf_counter()
    call_command("migrate", verbosity=0)
    timings["migrate"] = time.perf_counter() - start

    start = time.perf_counter()
    call_command(
        "demo_setup", "--patients", str(patients), "--allow-production", stdout=io.StringIO()
    )
    timings["demo_setup"] = time.perf_counter() - start

    start = time.perf_counter()
    oncologist = User.objects.get(username="demo-oncologist")
    clinicians = _people(
        "load-clinician", 50, list(TEAMS), [Role.CLINICIAN, Role.CLINICIAN, Role.ONCOLOGIST]
    )
    board_members = _people("load-board", 30, ["thoracic"], [Role.ONCOLOGIST, Role.CLINICIAN])
    institution = Institution.objects.get(code=settings.DEMO_INSTITUTION_CODE)
    his = User.objects.create(username="load-his", role=Role.INTEGRATION, institution=institution)
    research = User.objects.create(
        username="load-research", role=Role.INTEGRATION, institution=institution
    )
    api_token = Token.objects.create(user=his).key
    research_token = Token.objects.create(user=research).key
    timings["users"] = time.perf_counter() - start

    start = time.perf_counter()
    team_cases, team_meetings = _meetings(oncologist)
    timings["meetings"] = time.perf_counter() - start

    start = time.perf_counter()
    radiomics = _radiomics_series(oncologist, radiomics_series, seed)
    timings["radiomics series"] = time.perf_counter() - start

    # A database in service has planner statistics; a freshly loaded one gets them from
    # autovacuum only after a while.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    team_patients = {
        team: [
            str(p)
            for p in Patient.objects.filter(care_teams__code=team)
            .order_by("mrn")
            .values_list("public_id", flat=True)
        ]
        for team in TEAMS
    }
    demo = Meeting.objects.get(title__endswith="(demo)")
    board_case = (
        BoardCase.objects.filter(meeting=demo, presenter__isnull=False).order_by("position").first()
    )
    if board_case is None:
        raise SystemExit("the demo meeting has no ready case")
    sync_patients = [
        (str(public_id), mrn)
        for public_id, mrn in Patient.objects.filter(
            institution=institution, vital_status="alive", diagnoses__isnull=False
        )
        .distinct()
        .order_by("mrn")
        .values_list("public_id", "mrn")
    ]
    return World(
        session_cookie=settings.SESSION_COOKIE_NAME,
        clinicians=clinicians,
        board_members=board_members,
        team_patients=team_patients,
        team_cases=team_cases,
        team_meetings=team_meetings,
        board_case=str(board_case.public_id),
        api_token=api_token,
        research_token=research_token,
        sync_patients=sync_patients,
        radiomics=radiomics,
        presets=[p for p in REQUESTABLE_PRESETS if p.startswith(("ibsi-", "ct-"))],
        timings=timings,
    )
