"""The two distributions, built and installed as a user would: contents, metadata, isolation.

``rhoconnect-client`` must bring nothing of the server stack (an app that only syncs gets requests
and click, and no pytest plugin); ``rhoconnect-mock`` brings the server, its command and the
``rhoconnect_mock`` fixture. Both are built (sdist, then the wheel from it) with the locked uv,
and each is installed from its folder into a new virtual environment.
"""

from __future__ import annotations

import email
import email.message
import os
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
UV = Path(sys.executable).parent / "uv"
SERVER_STACK = {"flask", "werkzeug", "faker", "cheroot", "pyyaml", "jinja2", "itsdangerous"}
#: Folders of the repository that no distribution contains: a packaged README must not send its
#: reader there.
NOT_SHIPPED = ("scripts/", "specs/", "features/", "docs/", "tests/", "benchmarks/", "docs/protocol.md", "../")


def _run(*args: str | Path, cwd: Path | None = None) -> str:
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "VIRTUAL_ENV": ""}
    env.pop("PYTEST_ADDOPTS", None)
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    for package in ("rhoconnect-client", "rhoconnect-mock"):
        # --sdist --wheel: both straight from the source folder (the default builds the wheel from
        # the sdist, a second build that shows nothing more here).
        _run(UV, "build", "--quiet", "--sdist", "--wheel", "--package", package, "--out-dir", out, cwd=REPO)
    return out


def _only(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    assert len(found) == 1, found
    return found[0]


def _wheel_metadata(wheel: Path) -> tuple[list[str], email.message.Message, str]:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = email.message_from_bytes(zf.read(meta_name))
        ep_name = next((n for n in names if n.endswith(".dist-info/entry_points.txt")), None)
        entry_points = zf.read(ep_name).decode() if ep_name else ""
    return names, meta, entry_points


def _requirement_names(meta: email.message.Message) -> set[str]:
    names = set()
    for req in meta.get_all("Requires-Dist") or []:
        name = req.split(";")[0].strip()
        for stop in "<>=!~[ (":
            name = name.split(stop)[0]
        names.add(name.lower())
    return names


@pytest.mark.parametrize(
    ("package", "module", "requires", "plugin"),
    [
        ("rhoconnect_client", "rhoconnect_client", {"requests", "urllib3", "click"}, False),
        (
            "rhoconnect_mock",
            "rhoconnect_mock",
            {"flask", "faker", "click", "cheroot", "pyyaml", "orjson"},
            True,
        ),
    ],
)
def test_wheel_contents_and_metadata(
    dist: Path, package: str, module: str, requires: set[str], plugin: bool
) -> None:
    version = _run(sys.executable, "-c", f"import {module}; print({module}.__version__)").strip()
    wheel = _only(dist, f"{package}-{version}-py3-none-any.whl")
    names, meta, entry_points = _wheel_metadata(wheel)
    top = {n.split("/")[0] for n in names}
    assert top == {module, f"{package}-{version}.dist-info"}, top
    assert f"{module}/py.typed" in names and f"{module}/__init__.py" in names
    if module == "rhoconnect_mock":  # the dashboard's files are package data
        assert {f"{module}/ui/static/{name}" for name in ("index.html", "app.js", "style.css")} <= set(names)
    assert not [n for n in names if n.endswith(("README.md", ".pyc"))], names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert meta["License-Expression"] == "MIT"
    assert meta["Requires-Python"] == ">=3.11"
    assert _requirement_names(meta) == requires
    assert ("pytest11" in entry_points) is plugin
    assert f"{module.replace('_', '-')} = {module}.cli:main" in entry_points
    description = meta.get_payload()
    assert isinstance(description, str) and description.startswith(f"# {package.replace('_', '-')}")
    for path in NOT_SHIPPED:
        assert path not in description, f"the packaged README points at {path}, which the wheel lacks"


@pytest.mark.parametrize(
    ("package", "folder"), [("rhoconnect_client", "client"), ("rhoconnect_mock", "mock_server")]
)
def test_sdist_holds_the_package_and_its_metadata_only(dist: Path, package: str, folder: str) -> None:
    sdist = _only(dist, f"{package}-*.tar.gz")
    with tarfile.open(sdist) as tf:
        names = {name.split("/", 1)[1] for name in tf.getnames() if "/" in name}
    assert {"pyproject.toml", "README.md", "LICENSE", "PKG-INFO", f"{package}/__init__.py"} <= names
    tops = {name.split("/")[0] for name in names}
    # pyproject.toml.orig: uv_build keeps the original next to the rewritten one.
    assert tops <= {"pyproject.toml", "pyproject.toml.orig", "README.md", "LICENSE", "PKG-INFO", package}
    assert (REPO / folder / "LICENSE").read_bytes() == (REPO / "LICENSE").read_bytes()


@pytest.fixture(scope="module")
def venvs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """A new environment per package, each installed from its folder (``pip install ./client``)."""
    root = tmp_path_factory.mktemp("venvs")
    found: dict[str, Path] = {}
    for folder in ("client", "mock_server"):
        env = root / folder
        _run(UV, "venv", "--quiet", "--python", sys.executable, env)
        python = env / "bin" / "python"
        _run(UV, "pip", "install", "--quiet", "--python", python, REPO / folder, "pytest>=8.3,<10")
        found[folder] = env
    yield found


def _installed(env: Path) -> set[str]:
    listing = _run(UV, "pip", "list", "--python", env / "bin" / "python", "--format", "freeze")
    return {line.split("==")[0].lower() for line in listing.splitlines()}


def _fixtures(env: Path, cwd: Path) -> str:
    return _run(env / "bin" / "python", "-m", "pytest", "--fixtures", "-p", "no:cacheprovider", cwd=cwd)


def test_client_alone_brings_no_server_stack_and_no_plugin(venvs: dict[str, Path], tmp_path: Path) -> None:
    env = venvs["client"]
    installed = _installed(env)
    assert "rhoconnect-client" in installed and "rhoconnect-mock" not in installed
    assert not installed & SERVER_STACK, installed & SERVER_STACK
    _run(env / "bin" / "python", "-c", "import rhoconnect_client; rhoconnect_client.SyncEngine")
    assert "rhoconnect" not in _fixtures(env, tmp_path)
    assert _run(env / "bin" / "rhoconnect-client", "--version").startswith("rhoconnect-client ")


def test_mock_brings_its_command_and_fixture(venvs: dict[str, Path], tmp_path: Path) -> None:
    env = venvs["mock_server"]
    assert "rhoconnect-client" not in _installed(env)
    fixtures = _fixtures(env, tmp_path)
    assert "rhoconnect_mock" in fixtures and "rhoconnect_mock_config" in fixtures
    assert "--users" in _run(env / "bin" / "rhoconnect-mock", "serve", "-h")
    proc = subprocess.Popen(
        [env / "bin" / "rhoconnect-mock", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner = [proc.stdout.readline() for _ in range(2)]
        assert banner[0].startswith("rhoconnect-mock") and "http://127.0.0.1:" in banner[1]
        while "Ctrl+C" not in proc.stdout.readline():  # the last banner line: SIGTERM is handled now
            pass
    finally:
        proc.terminate()
        _, errors = proc.communicate(timeout=20)  # reaps it and closes both pipes
    assert proc.returncode == 0, errors
