#!/usr/bin/env bash
# Install the harness into .venv (created if missing) and start the mock RhoConnect server with
# demo data on http://127.0.0.1:9292. Extra arguments go to `rhoconnect-mock serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
exec .venv/bin/rhoconnect-mock serve "$@"
