#!/usr/bin/env bash
# Creates (or refreshes) the Python 3.10 virtualenv of the Rasa server (rasa 3.6 needs < 3.11).
# Kept apart from .venv: rasa pins pydantic 1 and SQLAlchemy 1.4, the backend uses 2.x.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV_BOT:-.venv-bot}
PYTHON=${PYTHON_BOT:-python3.10}
# A pyenv shim answers `command -v` yet fails when 3.10 is not the active version: run it to know.
if ! "$PYTHON" --version >/dev/null 2>&1; then
  for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10.*/bin/python3.10 /usr/bin/python3.10; do
    if [ -x "$candidate" ] && "$candidate" --version >/dev/null 2>&1; then PYTHON=$candidate; break; fi
  done
fi
if ! "$PYTHON" --version >/dev/null 2>&1; then
  echo "setup-bot: Python 3.10 not found; install it or set PYTHON_BOT" >&2
  exit 1
fi

stamp="$VENV/.requirements.sha256"
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ -x "$VENV/bin/rasa" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "setup-bot: $VENV is up to date"
  exit 0
fi
echo "setup-bot: creating $VENV with $("$PYTHON" --version) (rasa and tensorflow: a few minutes)"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r requirements.txt
echo "$want" > "$stamp"
echo "setup-bot: $VENV ready"
