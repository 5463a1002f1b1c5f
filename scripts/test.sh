#!/usr/bin/env bash
# Installs everything, then runs lint (ruff), types (mypy) and the whole test suite (pytest).
# Uses PostgreSQL and Redis on 127.0.0.1 when they answer; otherwise the suite runs on SQLite and
# the integration tests are skipped with a loud reason (REQUIRE_SERVICES=1 makes that a failure).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
source scripts/_env.sh
export DJANGO_ENV=test
unset REDIS_URL CELERY_BROKER_URL CACHE_URL
if [ -z "${DATABASE_URL:-}" ] && python scripts/probe.py postgres; then
    export DATABASE_URL="postgres://postgres@127.0.0.1:5432/oncoboard"
fi
if [ -z "${TEST_REDIS_URL:-}" ] && python scripts/probe.py redis; then
    export TEST_REDIS_URL="redis://127.0.0.1:6379/15"
fi
echo "== database: ${DATABASE_URL:-sqlite (embedded)}; redis: ${TEST_REDIS_URL:-absent}"
echo "== ruff"; ruff check . && ruff format --check .
echo "== mypy"; mypy config core oncology genomics imaging
echo "== pytest"; python -m pytest "$@"
