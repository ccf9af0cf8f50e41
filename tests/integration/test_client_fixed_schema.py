"""Fixed-schema models against a live mock: their own table with a column per property, the same
object API as property bags, the server's schema change, and a bulk file's fixed table."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rhoconnect_client import SyncEngine
from rhoconnect_mock import MockServer

pytestmark = pytest.mark.integration
WAIT = 30
SCHEMA: dict[str, Any] = {
    "version": "1.0",
    "property": {"name": "string", "brand": "string", "price": "string"},
    "index": {"by_brand": "brand"},
}


@pytest.fixture
def server() -> Iterator[MockServer]:
    config = {
        "bulk_wait_polls": 0,
        "sources": {"Item": {"records": 12, "schema": SCHEMA}, "Product": {"records": 5}},
    }
    with MockServer(config) as srv:
        yield srv


def table(db: Path, name: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(f'SELECT * FROM "{name}" ORDER BY object').fetchall()
    finally:
        conn.close()


def columns(db: Path, name: str) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return [r[1] for r in conn.execute(f'PRAGMA table_info("{name}")')]
    finally:
        conn.close()


def test_fixed_model_syncs_into_its_own_table_with_the_same_api(server: MockServer, tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    engine = SyncEngine(server.url, db)
    try:
        item = engine.add_model("Item", schema=SCHEMA)
        product = engine.add_model("Product")
        engine.login("alice", "pw").wait(WAIT)
        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        records = {k: dict(v) for k, v in server.state.records("Item", "alice").items()}
        assert columns(db, "Item") == ["object", "name", "brand", "price"]
        assert {r[0]: {"name": r[1], "brand": r[2], "price": r[3]} for r in table(db, "Item")} == records
        assert engine.stores["user"].conn.execute(
            "SELECT count(*) FROM object_values WHERE source_id=?", (item.source.source_id,)
        ).fetchone() == (0,)
        assert item.count() == 12 and product.count() == 5

        # find with conditions, order and limit, as on property bags
        brand = next(iter(records.values()))["brand"]
        expected = sorted((oid for oid, r in records.items() if r["brand"] == brand))
        assert [o["object"] for o in item.find_all({"brand": brand})] == expected
        assert item.count({"brand": brand}) == len(expected)
        names = sorted(r["name"] for r in records.values())
        assert [o["name"] for o in item.find_all(order_by="name", limit=3)] == names[:3]
        assert [o["name"] for o in item.find_all(order_by="name", order_dir="DESC", limit=2)] == names[::-1][
            :2
        ]

        # local writes, pushed, linked back into the table
        temp = item.create({"name": "Pen", "brand": "Acme", "price": "1.00"})["object"]
        some = sorted(records)[0]
        item.update(some, {"price": "9.99"})
        gone = sorted(records)[1]
        item.destroy(gone)
        with pytest.raises(ValueError, match="has no property color"):
            item.create({"name": "X", "color": "red"})
        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        server_now = {k: dict(v) for k, v in server.state.records("Item", "alice").items()}
        assert server_now[some]["price"] == "9.99" and gone not in server_now
        (new_id,) = [k for k, v in server_now.items() if v["name"] == "Pen"]
        assert item.find(temp) is None and item.find(new_id) == {"object": new_id, **server_now[new_id]}
        assert {r[0] for r in table(db, "Item")} == set(server_now)
        assert engine.stores["user"].pending_count() == 0
    finally:
        engine.close()


def test_schema_change_rebuilds_the_table_keeping_pending_changes(server: MockServer, tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    engine = SyncEngine(server.url, db)
    try:
        item = engine.add_model("Item", schema=SCHEMA)
        engine.login("alice", "pw").wait(WAIT)
        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        server.state.bump_schema_version("Item")
        events: list[dict[str, Any]] = []
        engine.set_notification(-1, events.append)
        engine.dosync().wait(WAIT)
        assert any(e.get("status") == "schema-changed" for e in events), events
        temp = item.create({"name": "Pending", "brand": "Mine", "price": "3"})["object"]
        edited = sorted(o["object"] for o in item.find_all())[0]
        item.update(edited, {"brand": "Edited"})

        # The app declares the new schema (a new property, one dropped): the table follows.
        new_schema = {"version": "2.0", "property": {"name": "string", "brand": "string", "color": "string"}}
        item = engine.add_model("Item", schema=new_schema)
        assert columns(db, "Item") == ["object", "name", "brand", "color"]
        assert item.find(temp) == {"object": temp, "name": "Pending", "brand": "Mine"}
        assert (item.find(edited) or {})["brand"] == "Edited"
        assert engine.stores["user"].pending_count(item.source.source_id) == 2
        item.update(temp, {"color": "blue"})
        assert item.find(temp) == {"object": temp, "name": "Pending", "brand": "Mine", "color": "blue"}
        batch = engine.stores["user"].begin_push(item.source.source_id)  # what the next push sends
        assert batch is not None and batch.create == {
            temp: {"name": "Pending", "brand": "Mine", "color": "blue"}
        }
        assert batch.update == {edited: {"brand": "Edited"}}
        engine.stores["user"].push_failed(item.source.source_id)
    finally:
        engine.close()


def test_bulk_sync_keeps_the_fixed_table(server: MockServer, tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    engine = SyncEngine(server.url, db, bulk_wait_seconds=0.05)
    try:
        item = engine.add_model("Item", schema=SCHEMA)
        engine.add_model("Product")
        engine.login("alice", "pw").wait(WAIT)
        local = item.create({"name": "Local", "brand": "Mine", "price": "1"})["object"]
        engine.bulksync_state = 0
        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        records = server.state.records("Item", "alice")
        assert {r[0] for r in table(db, "Item")} == set(records)  # the local create was pushed and linked
        assert item.find(local) is None and any(r.get("name") == "Local" for r in records.values())
        assert item.count() == len(records)
    finally:
        engine.close()


def test_bulk_sync_of_an_in_memory_database_keeps_the_fixed_table(server: MockServer) -> None:
    engine = SyncEngine(server.url, ":memory:", bulk_wait_seconds=0.05)
    try:
        item = engine.add_model("Item", schema=SCHEMA)
        engine.login("alice", "pw").wait(WAIT)
        engine.bulksync_state = 0
        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        assert item.count() == len(server.state.records("Item", "alice"))
        conn = engine.stores["user"].conn
        assert conn.execute('SELECT count(*) FROM "Item"').fetchone() == (item.count(),)
    finally:
        engine.close()
