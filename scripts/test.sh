#!/usr/bin/env bash
# Runs every test suite. Used by `make test` and by CI (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-services.sh
./scripts/setup-bot.sh
./scripts/setup-browser.sh
export PYTHONDONTWRITEBYTECODE=1
# The bot's FAQ answers are generated from the policy file: they must be up to date.
.venv/bin/python scripts/gen_policy_responses.py --check
# Validates the data and trains the model (reused when nothing changed since the last one).
./scripts/train.sh
# Dialogue test conversations: every predicted action must match (Rasa's own test runner).
mkdir -p var
TF_CPP_MIN_LOG_LEVEL=3 PYTHONPATH="$PWD" .venv-bot/bin/rasa test core --model models/aftersales.tar.gz \
  --stories tests/stories --fail-on-prediction-errors --out var/rasa-test > var/rasa-test.log 2>&1 \
  || { tail -40 var/rasa-test.log; echo "rasa test core: a test conversation failed (var/rasa-test/failed_test_stories.yml)"; exit 1; }
echo "rasa test core: $(grep -a -m1 'Correct:' var/rasa-test.log | sed 's/.*Correct: *//') test conversations correct"
# Everything else (policy, backend API on SQLite and PostgreSQL, actions, the bot end to end). Last, so
# that its summary line closes the output.
.venv/bin/python -m pytest -q "$@"
