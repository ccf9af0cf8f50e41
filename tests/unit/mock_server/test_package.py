"""The package surface: sorted re-exports, no client library and no ``requests`` in the mock."""

from __future__ import annotations

import subprocess
import sys

import rhoconnect_mock


def test_all_is_sorted_and_importable() -> None:
    assert rhoconnect_mock.__all__ == sorted(rhoconnect_mock.__all__)
    for name in rhoconnect_mock.__all__:
        assert getattr(rhoconnect_mock, name) is not None


def test_mock_imports_neither_requests_nor_the_client() -> None:
    code = (
        "import sys, rhoconnect_mock, rhoconnect_mock.cli, rhoconnect_mock.server;"
        "rhoconnect_mock.create_app();"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'requests', 'rhoconnect_client'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
