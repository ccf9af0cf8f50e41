"""Robustness of the real client against the live mock's faults.

Every case: a first sync, then a local change and a server change, then a sync that meets the
fault mid-paging (the second query request) or on the push. Then: the right ``error`` notification,
``PRAGMA integrity_check`` ok, the local change still pending, and the next sync ends with exactly
the server's data and the change on the server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rhoconnect_client import SyncEngine
from rhoconnect_mock import MockServer

pytestmark = pytest.mark.integration
WAIT = 30
CONFIG = {
    "sources": {
        "Product": {"records": 40, "priority": 1},
        "Customer": {"records": 5, "priority": 2},
        "Fixed": {"records": 4, "priority": 3, "schema": {"version": "1.0", "property": {"name": "string"}}},
    }
}


@pytest.fixture
def server() -> Iterator[MockServer]:
    with MockServer(CONFIG) as srv:
        yield srv


@pytest.fixture
def engine(server: MockServer, tmp_path: Path) -> Iterator[SyncEngine]:
    eng = SyncEngine(server.url, tmp_path / "db.sqlite", timeout=1.0)
    eng.add_model("Product", sync_priority=1)
    eng.add_model("Customer", sync_priority=2)
    assert eng.login("alice", "secret").wait(WAIT)["error_code"] == 0  # type: ignore[index]
    eng.set_pagesize(10)
    assert eng.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
    yield eng
    eng.close()


def records(server: MockServer, source: str) -> dict[str, dict[str, str]]:
    return {oid: dict(a) for oid, a in server.state.records(source, "alice").items()}


def local(engine: SyncEngine, name: str) -> dict[str, dict[str, str]]:
    return {o.pop("object"): o for o in engine.model(name).find_all()}


def prepare_changes(engine: SyncEngine, server: MockServer) -> str:
    server.state.backend_update("Product", "alice", "1", {"name": "changed on the server"})
    server.state.backend_insert("Product", "alice", "srv-new", {"name": "new on the server"})
    server.state.backend_delete("Product", "alice", "2")
    return engine.model("Product").create({"name": "made offline"})["object"]


def sync_collecting(engine: SyncEngine) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    engine.set_notification(-1, events.append)
    result = engine.dosync().wait(WAIT)
    engine.clear_notification(-1)
    return result, events


def assert_recovers(engine: SyncEngine, server: MockServer, temp: str) -> None:
    for store in engine.stores.values():
        assert store.integrity_check() == "ok"
    if not engine.logged_in():
        assert engine.login("alice", "secret").wait(WAIT)["error_code"] == 0  # type: ignore[index]
    result, events = sync_collecting(engine)
    assert result is not None and result["status"] == "complete", [
        e for e in events if e["status"] == "error"
    ]
    assert local(engine, "Product") == records(server, "Product")
    assert local(engine, "Customer") == records(server, "Customer")
    assert engine.model("Product").find(temp) is None
    assert [a for a in records(server, "Product").values() if a.get("name") == "made offline"]
    assert engine.stores["user"].pending_count() == 0


@pytest.mark.parametrize(
    ("action", "params", "code", "rho"),
    [
        ("status", {"status": 500, "body": "Internal Server Error"}, 500, 2),
        ("status", {"status": 404, "body": "Not Found"}, 404, 2),
        ("status", {"status": 503, "body": ""}, 503, 2),
        ("status", {"status": 500, "body": "Unknown client"}, 500, 2),
        ("reset", {"at": "before_headers"}, 1, 1),
        ("reset", {"at": "after_headers"}, 1, 1),
        ("delay", {"seconds": 2.5, "before_handler": True}, 1, 1),
        ("malformed_json", {}, 4, 4),
        ("wrong_version", {"version": 2}, 11, 11),
        ("empty_array", {}, 4, 4),
    ],
)
def test_query_fault_mid_paging(
    engine: SyncEngine, server: MockServer, action: str, params: dict[str, Any], code: int, rho: int
) -> None:
    temp = prepare_changes(engine, server)
    server.fail("query", action, source="Product", nth=2, times=1, **params)
    result, events = sync_collecting(engine)
    errors = [e for e in events if e["status"] == "error"]
    assert [(e["source_name"], e["error_code"], e["rho_error_code"]) for e in errors] == [
        ("Product", code, rho)
    ]
    if action == "status":
        assert errors[0]["error_message"] == params["body"]
    assert result is not None and result["status"] == "complete"  # Customer still synced
    assert_recovers(engine, server, temp)


def test_truncated_body(engine: SyncEngine, server: MockServer) -> None:
    temp = prepare_changes(engine, server)
    server.fail("query", "truncate", source="Product", nth=2, times=1, bytes=40)
    _, events = sync_collecting(engine)
    errors = [e for e in events if e["status"] == "error"]
    assert len(errors) == 1 and errors[0]["error_code"] in (1, 4)
    assert_recovers(engine, server, temp)


def test_401_mid_sync_clears_session_and_stops(engine: SyncEngine, server: MockServer) -> None:
    temp = prepare_changes(engine, server)
    server.fail("query", "status", source="Product", nth=2, times=1, status=401, body="Not authenticated")
    result, events = sync_collecting(engine)
    assert result is not None
    assert (result["status"], result["error_code"], result["rho_error_code"]) == ("error", 401, 9)
    assert [e["status"] for e in events] == ["in_progress", "error"]  # no Customer, no complete
    assert not engine.logged_in()
    logins = [e for e in server.request_journal.entries() if e.operation == "login"]
    assert len(logins) == 1  # no automatic re-login
    assert_recovers(engine, server, temp)


def test_push_failure_keeps_changes(engine: SyncEngine, server: MockServer) -> None:
    temp = prepare_changes(engine, server)
    engine.model("Product").update("3", {"price": "1.00"})
    server.fail("cud", "status", times=1, status=500, body="boom")
    _, events = sync_collecting(engine)
    errors = [e for e in events if e["status"] == "error"]
    assert [(e["source_name"], e["error_code"]) for e in errors] == [("Product", 500)]
    assert engine.stores["user"].pending_count() == 2
    assert_recovers(engine, server, temp)
    assert records(server, "Product")["3"]["price"] == "1.00"


def test_push_connection_reset_keeps_changes(engine: SyncEngine, server: MockServer) -> None:
    temp = prepare_changes(engine, server)
    server.fail("cud", "reset", times=1, at="before_headers")
    _, events = sync_collecting(engine)
    assert [e["error_code"] for e in events if e["status"] == "error"] == [1]
    assert_recovers(engine, server, temp)


def test_adapter_query_error_notifies_and_sync_continues(engine: SyncEngine, server: MockServer) -> None:
    temp = prepare_changes(engine, server)
    server.fail("query", "adapter_error", source="Product", times=1, stage="query", message="query exploded")
    result, events = sync_collecting(engine)
    errors = [e for e in events if e["status"] == "error"]
    assert errors and errors[0]["error_code"] == 8 and errors[0]["rho_error_code"] == 8
    assert errors[0]["server_errors"] == {"query-error": {"message": "query exploded"}}
    assert result is not None and result["status"] == "complete"
    assert [e["source_name"] for e in events if e["status"] == "ok"] == ["Product", "Customer"]
    assert_recovers(engine, server, temp)


def test_adapter_create_error_then_recreate(engine: SyncEngine, server: MockServer) -> None:
    temp = prepare_changes(engine, server)
    server.fail("cud", "adapter_error", times=1, stage="create", message="duplicate name")
    _, events = sync_collecting(engine)
    error = next(e for e in events if e["status"] == "error")
    assert error["error_code"] == 8
    assert error["server_errors"]["create-error"][temp]["message"] == "duplicate name"
    assert error["server_errors"]["create-error"][temp]["attributes"] == {"name": "made offline"}
    assert engine.model("Product").find(temp) is not None  # kept, waiting for the app's decision
    engine.on_sync_create_error("Product", error["server_errors"]["create-error"], ":recreate")
    assert_recovers(engine, server, temp)


def test_schema_changed_reported(engine: SyncEngine, server: MockServer) -> None:
    engine.add_model("Fixed", sync_priority=3)
    assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
    server.state.bump_schema_version("Fixed", "2.0")
    result, events = sync_collecting(engine)
    assert result is not None and result["status"] == "schema-changed" and result["source_name"] == "Fixed"
    assert "complete" not in [e["status"] for e in events]
    for store in engine.stores.values():
        assert store.integrity_check() == "ok"


def test_connection_refused_then_right_server(server: MockServer, tmp_path: Path) -> None:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    dead = f"http://127.0.0.1:{sock.getsockname()[1]}/application"
    sock.close()
    engine = SyncEngine(dead, tmp_path / "db.sqlite", timeout=2)
    engine.add_model("Product")
    try:
        refused = engine.login("alice", "secret").wait(WAIT)
        assert refused is not None and refused["error_code"] == 1 and refused["rho_error_code"] == 1
        assert "127.0.0.1" in refused["error_message"]
        engine.set_syncserver(server.url)
        assert engine.login("alice", "secret").wait(WAIT)["error_code"] == 0  # type: ignore[index]
        result, _ = sync_collecting(engine)
        assert result is not None and result["status"] == "complete"
        assert local(engine, "Product") == records(server, "Product")
    finally:
        engine.close()


def test_server_that_lost_the_client(engine: SyncEngine, server: MockServer) -> None:
    temp = prepare_changes(engine, server)
    server.state.forget_clients()  # as after a server-side flush: every client id is unknown
    _, events = sync_collecting(engine)
    errors = [e for e in events if e["status"] == "error"]
    assert errors and all((e["error_code"], e["error_message"]) == (500, "Unknown client") for e in errors)
    assert engine.stores["user"].pending_count() == 1
    assert_recovers(engine, server, temp)


def test_creates_held_after_a_failed_create_are_linked_in_the_same_sync(
    engine: SyncEngine, server: MockServer
) -> None:
    """Errors transcript finding 5: after a failed create the server holds the later creates until
    the client's next POST; the engine posts (an empty body) and pulls their links in the same sync."""
    held_creates_case(engine, server)


def test_creates_held_after_a_failed_create_rest_family(server: MockServer, tmp_path: Path) -> None:
    engine = SyncEngine(server.base_url, tmp_path / "rest.sqlite", url_family="rest", timeout=1.0)
    try:
        engine.add_model("Product", sync_priority=1)
        assert engine.login("alice", "secret").wait(WAIT)["error_code"] == 0  # type: ignore[index]
        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        held_creates_case(engine, server)
    finally:
        engine.close()


def held_creates_case(engine: SyncEngine, server: MockServer) -> None:
    product = engine.model("Product")
    bad = product.create({"name": "rejected"})["object"]
    good = product.create({"name": "accepted"})["object"]
    server.state.fail_adapter("create", "Product", "boom", objects=[bad])
    server.request_journal.clear()
    result, events = sync_collecting(engine)
    assert result is not None and result["status"] == "complete"
    error = next(e for e in events if e["status"] == "error")
    assert list(error["server_errors"]["create-error"]) == [bad]
    posts = list(server.request_journal.entries(operation="cud", source="Product"))
    assert len(posts) == 2
    assert json.loads(posts[1].request_body or "") == {
        "client_id": engine.stores["user"].client_info().client_id,
        "source_name": "Product",
    }
    on_server = [oid for oid, attrs in records(server, "Product").items() if attrs.get("name") == "accepted"]
    assert len(on_server) == 1
    assert product.find(good) is None and product.find(on_server[0]) == {
        "object": on_server[0],
        "name": "accepted",
    }
    store = engine.stores["user"]
    source_id = product.source.source_id
    assert store.waiting_creates(source_id) == [bad]  # waits for the app's decision
    # The next sync creates nothing twice, and after the app's decision the rejected object goes.
    assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
    assert sum(a.get("name") == "accepted" for a in records(server, "Product").values()) == 1
    engine.on_sync_create_error("Product", bad, "delete")
    assert store.pending_count(source_id) == 0 and product.find(bad) is None
    assert local(engine, "Product") == records(server, "Product")
