#!/usr/bin/env bash
# Install the workspace from uv.lock into .venv (both packages editable, with the test and lint
# tools) and run every check: ruff (lint and format), mypy (strict on both packages and on the
# tests) and the whole pytest suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
sync_venv
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# The tests, strict too: one run per folder, as pytest imports each folder's modules (and its own
# conftest) by their bare names.
for folder in $(find tests -name '*.py' -not -path '*/.*' -printf '%h\n' | sort -u); do
    MYPYPATH="client:mock_server:tests:$folder" .venv/bin/mypy "$folder"/*.py
done
.venv/bin/pytest "$@"
