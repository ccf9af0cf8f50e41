"""``scripts/bootstrap.sh``: the workspace is installed again only when the lock or a pyproject changed.

Run in a scratch copy of the files it hashes, with a stand-in ``.venv/bin/uv`` that records its
calls, so the real environment is never touched.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HASHED = ("uv.lock", "pyproject.toml", "client/pyproject.toml", "mock_server/pyproject.toml")


def _project(tmp_path: Path) -> Path:
    for name in (*HASHED, "scripts/bootstrap.sh"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, tmp_path / name)
    uv = tmp_path / ".venv" / "bin" / "uv"
    uv.parent.mkdir(parents=True)
    uv.write_text('#!/bin/sh\necho "$@" >> "$(dirname "$0")/uv-calls"\n')
    uv.chmod(0o755)
    return tmp_path


def _sync(project: Path) -> tuple[list[str], float]:
    started = time.monotonic()
    subprocess.run(
        ["bash", "-c", "set -euo pipefail; source scripts/bootstrap.sh; sync_venv"], cwd=project, check=True
    )
    elapsed = time.monotonic() - started
    log = project / ".venv" / "bin" / "uv-calls"
    return (log.read_text().splitlines() if log.exists() else []), elapsed


def test_installs_once_then_only_after_a_change(tmp_path: Path) -> None:
    project = _project(tmp_path)
    calls, _ = _sync(project)
    assert calls == ["sync --locked --quiet --python .venv/bin/python"]
    calls, elapsed = _sync(project)
    assert len(calls) == 1, "nothing changed: no second install"
    assert elapsed < 2  # a hash of four files; the demo's start is measured in benchmarks/
    with (project / "mock_server" / "pyproject.toml").open("a") as f:
        f.write("\n# a change\n")
    calls, _ = _sync(project)
    assert len(calls) == 2, "a pyproject changed: install again"
    (project / "uv.lock").write_text((project / "uv.lock").read_text() + "\n")
    calls, _ = _sync(project)
    assert len(calls) == 3, "the lock changed: install again"
