"""``MockServer`` is fully typed: mypy --strict rejects a call of a method it does not have.

One mypy run checks two small programs using the installed package, as a user's test suite would.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

GOOD = """\
from rhoconnect_mock import MockServer

def use(server: MockServer) -> str:
    server.reset(journal=False)
    entries = server.journal(operation="query")
    assert entries.first(status=200) is None or server.faults() == []
    return server.fail("query", status=500, times=1) + server.url
"""

BAD = """\
from rhoconnect_mock import MockServer

def use(server: MockServer) -> None:
    MockServer().typo_method()
"""


@pytest.fixture(scope="module")
def mypy_output(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("typing")
    (folder / "good_use.py").write_text(GOOD)
    (folder / "bad_use.py").write_text(BAD)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--cache-dir",
            str(folder / "cache"),
            str(folder / "good_use.py"),
            str(folder / "bad_use.py"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result.stdout + result.stderr


def test_mypy_rejects_a_method_mock_server_does_not_have(mypy_output: str) -> None:
    assert 'bad_use.py:4: error: "MockServer" has no attribute "typo_method"' in mypy_output


def test_mypy_accepts_real_calls_on_mock_server(mypy_output: str) -> None:
    assert "good_use.py" not in mypy_output, mypy_output
