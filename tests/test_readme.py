"""The README's examples run as written against the demo mock (``rhoconnect-mock serve`` as
``./scripts/demo.sh`` starts it), with only the port changed.

The blocks are found by the ``<!-- tested: NAME -->`` comment just before them, so what the README
shows is exactly what runs here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DEMO_URL = "http://127.0.0.1:9292"


def readme_block(name: str) -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(rf"<!-- tested: {re.escape(name)} -->\n```\w+\n(.*?)```", text, flags=re.S)
    assert found, f"README block {name!r} not found"
    return found.group(1)


@pytest.fixture(scope="module")
def demo_mock() -> Iterator[str]:
    """``rhoconnect-mock serve`` with the demo defaults on a free port; yields its base URL."""
    command = Path(sys.executable).parent / "rhoconnect-mock"
    proc = subprocess.Popen(
        # --quiet: nobody reads the request log once the banner is in, and a full pipe would block it
        [str(command), "serve", "--port", "0", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base = ""
        for line in proc.stdout:
            if "base URL" in line:
                base = line.split()[-1]
            if "Ctrl+C" in line:
                break
        assert base.startswith("http://127.0.0.1:"), base
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def test_the_blocks_use_the_demo_url() -> None:
    assert DEMO_URL in readme_block("curl session")
    assert DEMO_URL + "/application" in readme_block("client example")
    assert DEMO_URL + "/application" in readme_block("cli round trip")


def test_curl_session(demo_mock: str, tmp_path: Path) -> None:
    assert shutil.which("curl"), "curl is needed for the README's curl session (apt-get install curl)"
    script = "set -euo pipefail\n" + readme_block("curl session").replace(DEMO_URL, demo_mock)
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    # The search found SKU-000003; the first page has 10 of 25 objects and a token; its
    # acknowledgement gave the next page; the push came back as a link; the fault answered 500.
    assert '[[{"version":3},{"token":"' in out and '{"source":"Product"},{"count":1},{"insert":{"3":' in out
    assert out.count('{"count":10},{"progress_count":0},{"total_count":25}') >= 2
    assert '"links":{"temp-1":{"l":"' in out
    assert '{"result":"wait"}' in out
    assert '"times":1' in out and "Unknown client (HTTP 500)" in out
    assert '{"reset":' in out
    with zipfile.ZipFile(tmp_path / "products.rzip") as archive:
        (entry,) = archive.namelist()
        assert archive.read(entry).startswith(b"SQLite format 3\x00")


def test_client_example(demo_mock: str, tmp_path: Path) -> None:
    code = readme_block("client example").replace(DEMO_URL, demo_mock)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "ok Product" in lines and "complete " in lines
    assert "complete 25 products" in lines
    pen = lines[-1]
    assert "'name': 'Pen'" in pen and "'object': '26'" in pen, pen  # renamed to its server id


def test_cli_round_trip(demo_mock: str, tmp_path: Path) -> None:
    """The shell round trip runs as written: each command succeeds and the server ends up with the
    pen (under its server id, at the new price) and without the deleted record."""
    script = "set -euo pipefail\n" + readme_block("cli round trip").replace(DEMO_URL, demo_mock)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=180, env=env
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    created = json.loads(lines[0])
    assert created["name"] == "Pen" and created["brand"] == "Acme" and created["object"] != "26", created
    pushes = [line.split() for line in lines if line.startswith("Product ")]
    assert pushes == [["Product", "ok", "26", "0"], ["Product", "ok", "25", "0"]], done.stdout
    assert any(line.split()[:3] == ["26", "Acme", "Pen"] for line in lines), done.stdout
    assert json.loads(next(line for line in lines if '"price": "9.99"' in line))["object"] == "26"
    assert "deleted Product 12" in lines

    with urllib.request.urlopen(f"{demo_mock}/_mock/sources/Product/users/bob/records", timeout=30) as answer:
        held = json.load(answer)["records"]
    assert held["26"] == {"brand": "Acme", "name": "Pen", "price": "9.99"}
    assert "12" not in held and len(held) == 25
