"""The command line's round trip against a live mock: create, update and delete records locally,
push them, and see them on the server and in ``show``; help for every command."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from rhoconnect_client.cli import main as cli
from rhoconnect_mock import MockServer

pytestmark = pytest.mark.integration


@pytest.fixture
def server() -> Iterator[MockServer]:
    with MockServer({"sources": {"Product": {"records": 3}}}) as srv:
        yield srv


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_create_push_update_push_delete_push(server: MockServer, tmp_path: Path) -> None:
    db = str(tmp_path / "cli.sqlite")
    login = ["--server", server.url, "--login", "alice", "--password", "pw", "--db", db]

    code, out = run("create", "--db", db, "Product", "name=Pen", "brand=Acme")
    assert code == 0, out
    created = json.loads(out)
    assert created["name"] == "Pen" and created["brand"] == "Acme" and created["object"]

    code, out = run("push", *login)
    assert code == 0, out
    server_records = dict(server.state.records("Product", "alice"))
    (new_id,) = [oid for oid, attrs in server_records.items() if attrs.get("brand") == "Acme"]
    code, out = run("show", "--db", db, "--json", "Product")
    assert code == 0 and {o["object"] for o in json.loads(out)} == set(server_records)  # the server's ids

    code, out = run("update", "--db", db, "Product", new_id, "price=9.99")
    assert code == 0 and json.loads(out)["price"] == "9.99", out
    assert run("push", *login)[0] == 0
    assert server.state.records("Product", "alice")[new_id]["price"] == "9.99"

    code, out = run("delete", "--db", db, "Product", new_id)
    assert code == 0 and out.strip() == f"deleted Product {new_id}"
    assert run("push", *login)[0] == 0
    assert new_id not in server.state.records("Product", "alice")
    code, out = run("push", *login)
    assert code == 0 and out.strip() == "nothing to push"


def test_local_command_errors_are_one_line(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.sqlite")
    assert run("update", "--db", db, "Product", "1", "a=b") == (4, f"Error: no database at {db}\n")
    assert run("create", "--db", db, "Product", "name")[0] == 2  # not NAME=VALUE
    assert run("create", "--db", db, "Product", "name=x")[0] == 0
    code, out = run("update", "--db", db, "Product", "nope", "a=b")
    assert code == 2 and out == "Error: Product has no object 'nope'\n"
    code, out = run("delete", "--db", db, "Other", "1")
    assert code == 2 and out.startswith("Error: no source 'Other'")
    code, out = run("create", "--db", db, "Product", "object=1", "source_id=2")
    assert code == 2 and "reserved" in out


@pytest.mark.parametrize("command", ["create", "update", "delete", "show", "push", "sync", "search"])
def test_every_command_has_help(command: str) -> None:
    code, out = run(command, "-h")
    assert code == 0 and out.startswith(f"Usage: main {command}") and "--db" in out
