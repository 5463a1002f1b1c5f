"""Write docs/ibsi-compliance.md from the IBSI phantoms in ../shared/data (or $ONCO_SHARED_DATA).

Usage: .venv/bin/python scripts/ibsi_report.py [--data DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from imaging.radiomics.report import write_report  # noqa: E402


def main() -> int:
    default = Path(os.environ.get("ONCO_SHARED_DATA", ROOT.parent / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "ibsi-compliance.md")
    args = parser.parse_args()
    results = write_report(args.data, args.out)
    misses = sum(
        1
        for rows in results.values()
        for c in rows
        if c.reference.value is not None and not c.matched
    )
    print(f"wrote {args.out} ({misses} misses)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
