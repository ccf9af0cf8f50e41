"""The notification parameters of the public API against the live mock, status by status (seed
"Notification Parameters", the decisions in docs/protocol.md#decisions): exact key sets, native value types,
routing to the
per-source callback (by id or name, removed after its first finished event) with ``-1`` as the
fallback, the registration params merged in, ``query_params`` on the query URL, and ``stop_sync``."""

from __future__ import annotations

import threading
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
        "Product": {"records": 12, "priority": 1},
        "Customer": {"records": 3, "priority": 2, "partition": "app"},
        "Fixed": {"records": 2, "priority": 3, "schema": {"version": "1.0", "property": {"name": "string"}}},
    }
}
SOURCE_KEYS = {"source_id", "source_name", "sync_type", "status"}
COUNTERS = {"total_count", "processed_count", "cumulative_count"}
ERROR_KEYS = {"error_code", "rho_error_code", "error_message"}


@pytest.fixture
def server() -> Iterator[MockServer]:
    with MockServer(CONFIG) as srv:
        yield srv


@pytest.fixture
def engine(server: MockServer, tmp_path: Path) -> Iterator[SyncEngine]:
    eng = SyncEngine(server.url, tmp_path / "db.sqlite", timeout=2.0, bulk_wait_seconds=0.1)
    eng.add_model("Product", sync_priority=1)
    eng.add_model("Customer", sync_priority=2, partition="app")
    assert eng.login("alice", "secret").wait(WAIT)["error_code"] == 0  # type: ignore[index]
    eng.set_pagesize(5)
    yield eng
    eng.close()


def collect(engine: SyncEngine) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    engine.set_notification(-1, events.append, {"tag": "global"})
    return events


def assert_types(event: dict[str, Any]) -> None:
    for key in ("source_id", *COUNTERS, "error_code", "rho_error_code"):
        if key in event:
            assert type(event[key]) is int, (key, event)
    for key in ("source_name", "sync_type", "status", "error_message", "bulk_status", "partition"):
        if key in event:
            assert type(event[key]) is str, (key, event)


def test_incremental_statuses_keys_and_types(engine: SyncEngine) -> None:
    events = collect(engine)
    result = engine.dosync().wait(WAIT)
    for event in events:
        assert_types(event)
    progress = [e for e in events if e["status"] == "in_progress"]
    assert progress and all(set(e) == SOURCE_KEYS | COUNTERS | {"tag"} for e in progress)
    first = progress[0]
    assert (first["source_name"], first["sync_type"], first["tag"]) == ("Product", "incremental", "global")
    assert (first["total_count"], first["processed_count"], first["cumulative_count"]) == (12, 5, 5)
    assert [e["cumulative_count"] for e in progress if e["source_name"] == "Product"] == [5, 10, 12]
    oks = [e for e in events if e["status"] == "ok"]
    assert [e["source_name"] for e in oks] == ["Product", "Customer"]
    assert all(set(e) == SOURCE_KEYS | COUNTERS | ERROR_KEYS | {"tag"} for e in oks)
    assert (oks[0]["error_code"], oks[0]["rho_error_code"], oks[0]["error_message"]) == (0, 0, "")
    complete = events[-1]
    assert set(complete) == {"status", "sync_type"} | ERROR_KEYS | {"tag"}  # no source keys
    assert complete["status"] == "complete" and result == complete


def test_error_statuses_keys_and_types(engine: SyncEngine, server: MockServer) -> None:
    engine.dosync().wait(WAIT)
    events = collect(engine)
    server.fail("query", "adapter_error", source="Product", times=1, stage="query", message="down")
    server.fail("query", "status", source="Customer", times=1, status=500, body="Internal trouble")
    engine.dosync().wait(WAIT)
    errors = [e for e in events if e["status"] == "error"]
    for event in errors:
        assert_types(event)
    adapter = next(e for e in errors if e["source_name"] == "Product")
    assert set(adapter) == SOURCE_KEYS | COUNTERS | ERROR_KEYS | {"server_errors", "tag"}
    assert (adapter["error_code"], adapter["rho_error_code"]) == (8, 8)
    assert adapter["server_errors"] == {"query-error": {"message": "down"}}
    http = next(e for e in errors if e["source_name"] == "Customer")
    assert set(http) == SOURCE_KEYS | COUNTERS | ERROR_KEYS | {"tag"}
    assert (http["error_code"], http["rho_error_code"], http["error_message"]) == (500, 2, "Internal trouble")
    assert events[-1]["status"] == "complete"


def test_schema_changed_and_bulk_statuses(engine: SyncEngine, server: MockServer) -> None:
    engine.add_model("Fixed", sync_priority=3)
    engine.bulksync_state = 0
    events = collect(engine)
    assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
    bulk = [e for e in events if e["sync_type"] == "bulk"]
    for event in bulk:
        assert_types(event)
    progress = [e for e in bulk if e["status"] == "in_progress"]
    assert progress and all(
        set(e) == {"partition", "bulk_status", "sync_type", "status", "tag"} for e in progress
    )
    assert {e["bulk_status"] for e in progress} == {"start", "download", "change_db", "ok"}
    server.state.bump_schema_version("Fixed", "2.0")
    events.clear()
    result = engine.dosync().wait(WAIT)
    assert result is not None and result["status"] == "schema-changed"
    assert set(result) == SOURCE_KEYS | COUNTERS | ERROR_KEYS | {"tag"} and result["source_name"] == "Fixed"
    assert_types(result)


def test_per_source_callback_by_name_is_one_shot_then_global(engine: SyncEngine) -> None:
    events = collect(engine)
    mine: list[dict[str, Any]] = []
    engine.set_notification("Product", mine.append, "page=products")
    engine.dosync().wait(WAIT)
    product_id = engine.model("Product").source.source_id
    assert [e["status"] for e in mine] == ["in_progress"] * 3 + ["ok"]
    assert all(e["page"] == "products" and e["source_id"] == product_id for e in mine)
    assert not any(e.get("source_name") == "Product" for e in events)  # only the per-source one got them
    engine.dosync().wait(WAIT)  # removed after its "ok": the global callback gets Product now
    assert len(mine) == 4
    assert any(e.get("source_name") == "Product" and e["tag"] == "global" for e in events)


def test_query_params_reach_the_query_url(engine: SyncEngine, server: MockServer) -> None:
    server.request_journal.clear()
    engine.dosync_source("Product", False, {"since": "2020-01-01", "kind": "a b"}).wait(WAIT)
    queries = list(server.request_journal.entries(operation="query", source="Product"))
    assert queries and all("since=2020-01-01&kind=a+b" in q.query_string for q in queries)
    engine.dosync(False, "&region=eu").wait(WAIT)
    queries = list(server.request_journal.entries(operation="query", source="Customer"))
    assert queries[-1].query_string.endswith("&region=eu")


def test_stop_sync_returns_idle_silences_and_the_handle_says_stopped(
    engine: SyncEngine, server: MockServer
) -> None:
    events = collect(engine)
    entered = threading.Event()

    def slow(params: dict[str, Any]) -> None:
        entered.set()

    engine.set_notification("Product", slow)
    server.fail("query", "delay", source="Product", nth=2, times=1, seconds=2)
    handle = engine.dosync()
    assert entered.wait(WAIT)
    engine.stop_sync()
    assert handle.done() and handle.stopped  # stop_sync returned with the sync thread idle
    result = handle.wait(0)
    assert result is not None and (result["status"], result["error_code"], result["rho_error_code"]) == (
        "error",
        10,
        10,
    )
    assert not any(e["status"] in ("ok", "complete") for e in events)
    for store in engine.stores.values():
        assert store.integrity_check() == "ok"
    assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]


def test_a_search_over_several_sources_reports_each_sources_error(
    engine: SyncEngine, server: MockServer
) -> None:
    """Both adapters fail their search: ``server_errors["search-error"]["message"]`` keeps the seed's
    key (the first source in the answer) and ``sources`` says what each source reported."""
    server.state.fail_adapter("search", "Product", "p down", times=1)
    server.state.fail_adapter("search", "Customer", "c down", times=1)
    result = engine.search(["Product", "Customer"], search_params={"name": "x"}).wait(WAIT)
    assert result is not None and (result["status"], result["error_code"]) == ("error", 8)
    assert result["server_errors"] == {
        "search-error": {
            "message": "p down",
            "sources": {"Product": {"message": "p down"}, "Customer": {"message": "c down"}},
        }
    }
