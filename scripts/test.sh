#!/usr/bin/env bash
# Install the harness with its test extras into .venv (created if missing) and run every check:
# ruff (lint and format), mypy (strict on both packages and on the tests) and the whole pytest suite.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# The tests, strict too: one run per folder, as pytest imports each folder's modules (and its own
# conftest) by their bare names.
for folder in $(find tests -name '*.py' -not -path '*/.*' -printf '%h\n' | sort -u); do
    MYPYPATH="client:mock_server:tests:$folder" .venv/bin/mypy "$folder"/*.py
done
.venv/bin/pytest "$@"
