#!/usr/bin/env bash
# Runs every test suite. Used by `make test` and by CI (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-services.sh
./scripts/setup-bot.sh
export PYTHONDONTWRITEBYTECODE=1
# The bot's FAQ answers are generated from the policy file: they must be up to date.
.venv/bin/python scripts/gen_policy_responses.py --check
# Validates the data and trains the model (reused when nothing changed since the last one).
./scripts/train.sh
.venv/bin/python -m pytest -q "$@"
