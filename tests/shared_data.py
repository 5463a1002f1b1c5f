"""Where the reference data of ../shared/data lies, read in place (never copied into the repo).

CI clones the repository with shared/ beside it. Elsewhere the data may be missing: tests that
need it call `shared_data(...)`, which skips with a loud reason, or fails when REQUIRE_SERVICES=1
(CI), so a missing data set never passes silently.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import require_services

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ONCO_SHARED_DATA", ROOT.parent / "shared" / "data"))


def shared_data(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        reason = f"SHARED DATA MISSING: {path} (set ONCO_SHARED_DATA or clone beside shared/)"
        if require_services():
            pytest.fail(reason)
        pytest.skip(reason)
    return path
