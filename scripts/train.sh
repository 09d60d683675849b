#!/usr/bin/env bash
# Validates the training data and trains the model into models/. Rasa fingerprints config, domain
# and data: when nothing changed since the last model, it reuses it instead of training again.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-bot.sh
export TF_CPP_MIN_LOG_LEVEL=3 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
.venv-bot/bin/rasa data validate --fail-on-warnings --quiet
# Through bot_runtime: Rasa's CLI with our fixes (bot_runtime/patches.py).
.venv-bot/bin/python -m bot_runtime train --fixed-model-name aftersales --quiet "$@"
