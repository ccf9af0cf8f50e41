"""One version per package, written once (its pyproject.toml), shown by ``--version`` of each command."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from types import ModuleType

import pytest
import rhoconnect_client
import rhoconnect_mock

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("module", "distribution", "command"),
    [
        (rhoconnect_client, "rhoconnect-client", "rhoconnect_client.cli"),
        (rhoconnect_mock, "rhoconnect-mock", "rhoconnect_mock.cli"),
    ],
)
def test_version_is_single_sourced_and_shown(module: ModuleType, distribution: str, command: str) -> None:
    declared = module.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", declared)
    assert version(distribution) == declared  # the installed metadata comes from __version__
    for flag in ("--version", "-V"):
        out = subprocess.run(
            [sys.executable, "-c", f"from {command} import main; main()", flag],
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout == f"{distribution} {declared}\n"


@pytest.mark.parametrize("command", ["rhoconnect_client.cli", "rhoconnect_mock.cli"])
@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_both_commands_answer_h(command: str, flag: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", f"from {command} import main; main()", flag],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.startswith("Usage: ") and "--version" in out.stdout
