# Shared by the scripts in this folder: creates .venv (Python 3.11) and installs the locked set.
# Sourced, not run.
VENV="${VENV:-$PWD/.venv}"
PYTHON="${PYTHON:-python3.11}"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
if [ ! -x "$VENV/bin/uv" ]; then
    "$VENV/bin/python" -m pip install --quiet "uv==0.13.9"
fi
# uv ignores pip's configuration; hand it the local wheel folder where torch's CPU build lies.
if [ -z "${UV_FIND_LINKS:-}" ]; then
    UV_FIND_LINKS="$("$VENV/bin/python" -m pip config get global.find-links 2>/dev/null || true)"
    export UV_FIND_LINKS
fi
export PATH="$VENV/bin:$PATH"
