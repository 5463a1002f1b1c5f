#!/usr/bin/env bash
# Installs everything into .venv: torch==2.13.0 first (CPU build), then the locked set.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_env.sh
stamp="$VENV/.installed-lock"
want="$(sha256sum requirements/lock.txt requirements/constraints.txt requirements/nodeps.txt | sha256sum | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    uv pip install --python "$VENV/bin/python" --quiet "torch==2.13.0"
    uv pip install --python "$VENV/bin/python" --quiet -r requirements/lock.txt \
        -c requirements/constraints.txt
    uv pip install --python "$VENV/bin/python" --quiet --no-deps -r requirements/nodeps.txt
    echo "$want" > "$stamp"
fi
