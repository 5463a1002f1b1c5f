#!/usr/bin/env bash
# Installs everything and starts OncoBoard on embedded defaults: SQLite and media under var/,
# jobs run inline (no Redis), the demo cohort loaded, a demo login printed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
source scripts/_env.sh
python manage.py migrate --noinput -v0
python manage.py demo_setup
exec python manage.py runserver "${ONCO_BIND:-127.0.0.1:8000}" --noreload
