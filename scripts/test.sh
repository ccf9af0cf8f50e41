#!/usr/bin/env bash
# Install the workspace from uv.lock into .venv (both packages editable, with the test and lint
# tools) and run every check: ruff (lint and format), mypy (strict on both packages) and the
# whole pytest suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
sync_venv
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pytest "$@"
