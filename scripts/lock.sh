#!/usr/bin/env bash
# Regenerates requirements/lock.txt from pyproject.toml (runtime + dev extras), keeping torch on
# the local CPU wheel. Run after changing a pin in pyproject.toml and commit both files.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_env.sh
"$VENV/bin/uv" pip compile --python-version 3.11 --extra dev pyproject.toml \
    -c requirements/constraints.txt -o requirements/lock.txt
