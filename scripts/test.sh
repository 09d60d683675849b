#!/usr/bin/env bash
# Runs every test suite. Used by `make test` and by CI (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-services.sh
export PYTHONDONTWRITEBYTECODE=1
.venv/bin/python -m pytest -q "$@"
