"""A large first sync builds the secondary indexes once at the end; local writes skip the fsync.

Both against a live mock: the load must end with the Rhodes indexes in place and the same data as a
sync that kept them up to date row by row, and a store left without them (a crash mid-load) gets
them back when it is opened.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from rhoconnect_client import SyncEngine
from rhoconnect_client.store import Store
from rhoconnect_client.sync_source import INITIAL_LOAD_MIN
from rhoconnect_mock import MockServer

pytestmark = pytest.mark.integration
WAIT = 60
RECORDS = INITIAL_LOAD_MIN + 500


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer({"sources": {"Product": {"records": RECORDS}, "Small": {"records": 5}}}) as srv:
        yield srv


def indexes(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='object_values'")
        return {r[0] for r in rows}
    finally:
        conn.close()


def test_large_first_sync_defers_indexes_and_ends_with_them(server: MockServer, tmp_path: Path) -> None:
    engine = SyncEngine(server.url, tmp_path / "db.sqlite")
    seen: list[set[str]] = []
    try:
        engine.add_model("Product")
        assert engine.login("alice", "pw").wait(WAIT)["error_code"] == 0  # type: ignore[index]

        def watch(params: dict[str, object]) -> None:
            if params.get("status") == "in_progress":
                seen.append(indexes(tmp_path / "db.sqlite"))

        engine.set_notification(-1, watch)
        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        expected = {oid: dict(a) for oid, a in server.state.records("Product", "alice").items()}
        assert {o.pop("object"): o for o in engine.model("Product").find_all()} == expected
        some = next(iter(expected.values()))
        assert engine.model("Product").count({"name": some["name"]}) >= 1
    finally:
        engine.close()
    assert seen and "by_src_value" not in seen[0] and "by_src_id" not in seen[0]
    assert {"by_src_id", "by_src_object", "by_src_value"} <= indexes(tmp_path / "db.sqlite")


def test_small_or_second_sync_keeps_indexes(server: MockServer, tmp_path: Path) -> None:
    engine = SyncEngine(server.url, tmp_path / "db.sqlite")
    seen: list[set[str]] = []
    try:
        engine.add_model("Small")
        assert engine.login("bob", "pw").wait(WAIT)["error_code"] == 0  # type: ignore[index]
        engine.set_notification(-1, lambda p: seen.append(indexes(tmp_path / "db.sqlite")))
        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
    finally:
        engine.close()
    assert seen and all("by_src_value" in s for s in seen)


def test_store_opened_after_a_crash_mid_load_has_its_indexes(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")
    source = store.register_source("Product")
    assert store.defer_indexes(source.source_id, 10_000)
    store.close()  # the process "dies" before build_indexes
    assert "by_src_value" not in indexes(tmp_path / "db.sqlite")
    Store(tmp_path / "db.sqlite").close()
    assert {"by_src_id", "by_src_value"} <= indexes(tmp_path / "db.sqlite")


def test_no_deferral_when_the_source_or_table_has_data(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite") as store:
        a = store.register_source("A")
        b = store.register_source("B")
        with store.transaction() as conn:
            conn.executemany(
                "INSERT INTO object_values VALUES (?, 'name', ?, 'x')",
                [(a.source_id, str(i)) for i in range(50)],
            )
        assert not store.defer_indexes(a.source_id, 10_000)  # the source holds objects
        assert not store.defer_indexes(b.source_id, 20)  # rebuilding would cost more than it saves
        assert not store.indexes_deferred


def test_local_writes_commit_without_fsync_and_sync_writes_with_it(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite") as store:
        assert store.local_write_level == "NORMAL"
        with store.transaction(durable=False) as conn:
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        with store.transaction() as conn:
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        with store.transaction() as conn, store.transaction(durable=False):
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # the outer one decides
    with Store(tmp_path / "off.sqlite", synchronous="OFF") as store:
        assert store.local_write_level == "OFF"
