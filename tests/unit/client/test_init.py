"""The package root only re-exports, with a sorted and complete ``__all__``."""

from __future__ import annotations

import ast
from pathlib import Path

import rhoconnect_client


def ruff_order(name: str) -> tuple[int, str]:
    """The order ruff keeps ``__all__`` in: CONSTANTS, then Classes, then the rest, each sorted."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


def test_all_is_sorted_and_resolves() -> None:
    assert rhoconnect_client.__all__ == sorted(rhoconnect_client.__all__, key=ruff_order)
    for name in rhoconnect_client.__all__:
        assert getattr(rhoconnect_client, name) is not None


def test_init_only_reexports() -> None:
    tree = ast.parse(Path(rhoconnect_client.__file__).read_text())
    imported: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            imported.update(alias.asname or alias.name for alias in node.names)
        else:
            is_doc = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            is_all = isinstance(node, ast.Assign) and [
                t.id for t in node.targets if isinstance(t, ast.Name)
            ] == ["__all__"]
            assert is_doc or is_all, ast.dump(node)
    assert imported == set(rhoconnect_client.__all__)


def test_every_public_exception_is_exported() -> None:
    from rhoconnect_client import exceptions

    assert set(exceptions.__all__) <= set(rhoconnect_client.__all__)
