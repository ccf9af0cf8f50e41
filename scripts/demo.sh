#!/usr/bin/env bash
# Start the mock RhoConnect server with demo data on http://127.0.0.1:9292, installing the
# workspace from uv.lock into .venv first if the project changed since the last start.
# Extra arguments go to `rhoconnect-mock serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
sync_venv
exec .venv/bin/rhoconnect-mock serve "$@"
