"""The layering rules of ARCHITECTURE.md, checked on the source: who may import what.

The two packages never import each other (agreement is shown by specs/ and features/, not shared
code); the client never imports Flask and only its transport imports requests; the client's codec does
no I/O; the mock never imports requests. Every module says what it is for and stays small.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLIENT = ROOT / "client" / "rhoconnect_client"
MOCK = ROOT / "mock_server" / "rhoconnect_mock"
MAX_LINES = 500


def modules(package: Path) -> list[Path]:
    return sorted(package.rglob("*.py"))


def imported_roots(path: Path) -> Iterator[str]:
    """Top-level names a module imports (absolute imports only; relative ones stay in the package)."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


def offenders(package: Path, forbidden: set[str]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules(package)
        for name in sorted(set(imported_roots(path)) & forbidden)
    ]


def test_the_client_never_imports_the_mock_or_a_web_framework() -> None:
    assert offenders(CLIENT, {"rhoconnect_mock", "flask", "werkzeug", "cheroot"}) == []


def test_the_mock_never_imports_the_client_or_requests() -> None:
    assert offenders(MOCK, {"rhoconnect_client", "requests", "urllib3"}) == []


def test_only_the_transport_talks_http_in_the_client() -> None:
    users = [p.name for p in modules(CLIENT) if "requests" in set(imported_roots(p))]
    assert users == ["transport.py"]


def test_the_client_codec_does_no_io() -> None:
    io_modules = {"requests", "socket", "sqlite3", "http", "urllib", "subprocess", "threading"}
    assert set(imported_roots(CLIENT / "protocol.py")) & io_modules == set()


@pytest.mark.parametrize("path", modules(CLIENT) + modules(MOCK), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_names_its_concern_and_stays_small(path: Path) -> None:
    tree = ast.parse(path.read_text())
    assert ast.get_docstring(tree), f"{path.name} has no module docstring"
    assert len(path.read_text().splitlines()) <= MAX_LINES, f"{path.name} is over {MAX_LINES} lines"
