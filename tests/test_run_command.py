"""The README's run command on its embedded defaults: SQLite, local files, jobs in process.

The rest of the suite runs on PostgreSQL when it answers (always on CI), so nothing else would
notice a query SQLite refuses. This test runs the run command's set-up steps (`migrate`,
`demo_setup`) in a child process with no database URL, as `bash scripts/run.sh` does, on a
smaller cohort, then reads the SQLite file it made: the demo outcome model is active, the demo
board meeting has cases with predictions, and its synthetic CT studies went through ingest. A
third child process opens the main pages as the demo oncologist on that database.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Run by `manage.py shell -c` in the child process: every page a demo user opens first.
PAGES_SCRIPT = """
from django.test import Client
from django.urls import reverse
from core.models import User
from imaging.models import Mask
from oncology.models import BoardCase, Meeting, OutcomeModel

user = User.objects.get(username="demo-oncologist")
client = Client()
client.force_login(user)
meeting = Meeting.objects.get()
model = OutcomeModel.objects.get(status="active")
mask = Mask.objects.select_related("series__study__patient").first()
urls = [
    reverse("oncology:patient-list"),
    reverse("board:meeting-list"),
    reverse("board:meeting-detail", args=[meeting.public_id]),
    reverse("outcome_models:list"),
    reverse("outcome_models:detail", args=[model.name, model.version]),
    reverse(
        "imaging:viewer", args=[mask.series.study.patient.public_id, mask.series.public_id]
    ),
]
for case in BoardCase.objects.all():
    urls.append(reverse("board:case-detail", args=[case.public_id]))
    urls.append(reverse("oncology:patient-detail", args=[case.patient.public_id]))
bad = [(url, client.get(url).status_code) for url in urls]
bad = [pair for pair in bad if pair[1] != 200]
print("PAGES", len(urls), "BAD", bad)
"""


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    var = tmp_path_factory.mktemp("embedded-var")
    env = _child_env(var)
    for args in (["migrate", "--noinput", "-v0"], ["demo_setup", "--patients", "120"]):
        done = subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, (
            f"{args[0]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return var


def _child_env(var: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "DJANGO_ENV", "REDIS_URL", "CELERY_BROKER_URL", "CACHE_URL"}
        and not k.startswith("TEST_")
    }
    env.update(ONCO_VAR_DIR=str(var), DJANGO_SETTINGS_MODULE="config.settings")
    return env


def _one(db: Path, sql: str) -> object:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchone()[0]


def test_the_demo_comes_up_on_sqlite_with_a_model_a_board_and_ingested_images(
    embedded: Path,
) -> None:
    db = next(embedded.glob("*.sqlite3"))
    assert _one(db, "SELECT count(*) FROM oncology_patient WHERE is_synthetic") == 120
    assert _one(db, "SELECT count(*) FROM oncology_outcomemodel WHERE status = 'active'") == 1
    assert _one(db, "SELECT count(*) FROM oncology_meeting") == 1
    assert _one(db, "SELECT count(*) FROM oncology_boardcase") >= 2
    assert _one(db, "SELECT count(*) FROM imaging_instance") > 0
    assert _one(db, "SELECT count(*) FROM imaging_mask") > 0
    # The cases were added with the active model's prediction (not the backdated synthetic ones
    # the closed-loop demo stores, which carry "synthetic" in their output).
    assert (
        _one(
            db,
            "SELECT count(DISTINCT c.id) FROM oncology_boardcase c JOIN oncology_prediction p "
            "ON p.patient_id = c.patient_id WHERE json_extract(p.output, '$.synthetic') IS NULL",
        )
        >= 2
    )


def test_the_main_pages_open_on_sqlite(embedded: Path) -> None:
    done = subprocess.run(  # noqa: S603 - our own manage.py with a fixed script
        [sys.executable, "manage.py", "shell", "-c", PAGES_SCRIPT],
        cwd=ROOT,
        env=_child_env(embedded),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(row for row in done.stdout.splitlines() if row.startswith("PAGES"))
    assert line.endswith("BAD []"), line
    assert int(line.split()[1]) >= 9
