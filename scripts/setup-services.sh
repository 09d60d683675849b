#!/usr/bin/env bash
# Creates (or refreshes) the Python 3.11 virtualenv of the case backend and the action server.
# Re-running is cheap: the install is skipped while the requirement files are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON_SERVICES:-python3.11}

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "setup: $PYTHON not found; install Python 3.11 or set PYTHON_SERVICES" >&2
  exit 1
fi

stamp="$VENV/.requirements.sha256"
want=$(cat requirements-services.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "setup: $VENV is up to date"
  exit 0
fi

echo "setup: creating $VENV with $($PYTHON --version)"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r requirements-dev.txt
echo "$want" > "$stamp"
echo "setup: $VENV ready"
