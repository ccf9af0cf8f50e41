"""Edges of the engine found in review: an unwritable settings file on the sync thread, the page's
``refresh_time``, errors of several sources in one search, a contradictory ``add_model``, the first
poll wait after a restart, and ``close`` while the caller holds the sync mutex."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakeserver import FakeServer, FakeTransport
from mutex_harness import call_holding_the_mutex
from rhoconnect_client.context import Settings
from rhoconnect_client.engine import SyncEngine
from rhoconnect_client.search import merge_server_errors

WAIT = 10
URL = "http://fake.invalid/application"


@pytest.fixture
def server() -> FakeServer:
    return FakeServer(
        {"Product": {"1": {"name": "Pen"}, "2": {"name": "Ink"}}, "Customer": {"c1": {"first": "Ann"}}}
    )


@pytest.fixture
def engine(server: FakeServer, tmp_path: Path) -> Iterator[SyncEngine]:
    eng = SyncEngine(URL, tmp_path / "app.sqlite", transport=FakeTransport(server), bulk_wait_seconds=0.01)
    eng.add_model("Product", sync_priority=1)
    eng.add_model("Customer", sync_priority=2)
    yield eng
    eng.close()


def login(engine: SyncEngine) -> None:
    ok = {"error_code": 0, "rho_error_code": 0, "error_message": ""}
    assert engine.login("alice", "secret").wait(WAIT) == ok


def unwritable_settings(database: Path) -> None:
    """Put a non-empty folder where the settings file goes: every later save fails with OSError,
    as on a full disk or a read-only folder (chmod does not stop root, a folder in the way does)."""
    path = Settings.file_beside(database)
    assert path is not None
    path.unlink(missing_ok=True)
    path.mkdir()
    (path / "keep").touch()


def test_an_unwritable_settings_file_neither_fails_the_login_nor_the_bulk_sync(
    engine: SyncEngine, server: FakeServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine.bulksync_state = 0  # saved while the file can still be written
    unwritable_settings(tmp_path / "app.sqlite")
    with caplog.at_level(logging.WARNING, logger="rhoconnect_client"):
        result = engine.login("alice", "secret").wait(WAIT)
        assert result == {"error_code": 0, "rho_error_code": 0, "error_message": ""}
        assert engine.logged_in() and engine.get_user_name() == "alice"
        done = engine.dosync().wait(WAIT)
    assert done is not None and done["status"] == "complete"
    assert engine.bulksync_state == 1 and engine.model("Product").count() == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("last user" in w for w in warnings) and any("bulk sync state" in w for w in warnings)
    assert not any("secret" in w for w in warnings)
    assert not list(tmp_path.glob("*.tmp"))  # no half-written file left behind


def test_a_pages_refresh_time_is_stored_in_backend_refresh_time(
    engine: SyncEngine, server: FakeServer
) -> None:
    """docs/protocol.md#page-layout: old servers sent ``refresh_time`` after ``count``; Rhodes keeps it per
    source."""
    login(engine)
    server.refresh_time["Product"] = 3600
    assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
    assert engine.model("Product").source.backend_refresh_time == 3600
    assert engine.model("Customer").source.backend_refresh_time == 0
    row = (
        engine.stores["user"]
        .conn.execute("SELECT backend_refresh_time FROM sources WHERE name='Product'")
        .fetchone()
    )
    assert tuple(row) == (3600,)
    del server.refresh_time["Product"]  # a page without one keeps what was stored
    server.data["Product"]["3"] = {"name": "Cap"}
    assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
    assert engine.model("Product").source.backend_refresh_time == 3600
    assert engine.model("Product").count() == 3


def test_a_search_over_several_sources_keeps_every_sources_error(
    engine: SyncEngine, server: FakeServer
) -> None:
    login(engine)
    server.source_errors["Product"] = {"search-error": "products down"}
    server.source_errors["Customer"] = {"search-error": "customers down"}
    result = engine.search(["Product", "Customer"], search_params={"a": "b"}).wait(WAIT)
    assert result is not None and (result["status"], result["error_code"]) == ("error", 8)
    assert result["server_errors"] == {
        "search-error": {
            "message": "products down",  # the seed's key: the first failing source's message
            "sources": {"Product": {"message": "products down"}, "Customer": {"message": "customers down"}},
        }
    }
    # One failing source of several: still says which one.
    del server.source_errors["Product"]
    result = engine.search(["Product", "Customer"], search_params={"a": "b"}).wait(WAIT)
    assert result is not None and result["server_errors"] == {
        "search-error": {"message": "customers down", "sources": {"Customer": {"message": "customers down"}}}
    }
    # A search over one source keeps the seed's shape exactly.
    result = engine.search(["Customer"], search_params={"a": "b"}).wait(WAIT)
    assert result is not None and result["server_errors"] == {"search-error": {"message": "customers down"}}


def test_merge_server_errors_gathers_object_errors_of_every_source() -> None:
    merged = merge_server_errors(
        {
            "Product": {"query-error": {"message": "q"}, "create-error": {"t1": {"message": "no"}}},
            "Customer": {"create-error": {"t2": {"message": "nope"}}},
        },
        several=True,
    )
    assert merged == {
        "query-error": {"message": "q", "sources": {"Product": {"message": "q"}}},
        "create-error": {"t1": {"message": "no"}, "t2": {"message": "nope"}},
    }


def test_a_synced_model_in_the_local_partition_is_refused_and_nothing_is_declared(
    server: FakeServer, tmp_path: Path
) -> None:
    with SyncEngine(URL, tmp_path / "l.sqlite", transport=FakeTransport(server)) as eng:
        with pytest.raises(ValueError, match="'local' holds local-only models"):
            eng.add_model("Memo", partition="local", sync_type="incremental")
        assert "local" not in eng.stores
        note = eng.add_model("Memo", partition="local", sync_type="none")  # the consistent form works
        assert note.source.partition == "local" and note.source.sync_type == "none"


def test_a_restarted_engine_polls_when_the_interval_since_the_last_sync_runs_out(
    server: FakeServer, tmp_path: Path
) -> None:
    """docs/protocol.md#threads-stop-and-polling: the first poll wait is the interval minus the time since the
    last sync, so an app
    reopened 59 min 59 s into an hour's interval syncs within seconds, not an hour later."""
    db = tmp_path / "p.sqlite"
    with SyncEngine(URL, db, transport=FakeTransport(server)) as first:
        first.add_model("Product", sync_priority=1)
        first.add_model("Customer", sync_priority=2, partition="app")
        login(first)
        assert first.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        stamp = int(time.time()) - 3599
        for store in first.stores.values():
            with store.transaction() as conn:
                conn.execute("UPDATE sources SET last_updated=?", (stamp,))
    server.log.clear()
    polled = threading.Event()
    server.fail("query", "call", func=polled.set)
    with SyncEngine(URL, db, transport=FakeTransport(server), poll_interval=3600) as again:
        assert polled.wait(WAIT), "no poll sync: the first wait was not shortened"
        assert again.wait_idle(WAIT)
    assert [op for op, _ in server.log].count("query") >= 1


def test_close_while_the_app_holds_the_sync_mutex_returns_and_closes_once_released(
    server: FakeServer, tmp_path: Path
) -> None:
    """The sync thread waits for the mutex the app holds: ``close`` must not wait for it (it would
    never end); it returns, and the databases close when the app lets go. Nothing is damaged."""
    db = tmp_path / "m.sqlite"
    engine = SyncEngine(URL, db, transport=FakeTransport(server))
    engine.add_model("Product", sync_priority=1)
    login(engine)
    engine.model("Product").create({"name": "mine"})
    ok, handle = call_holding_the_mutex(engine, engine.close, WAIT)
    assert ok, "close waited for a sync thread blocked on the app's own mutex"
    assert handle.wait(WAIT) is not None and handle.stopped
    deadline = time.monotonic() + WAIT
    while True:  # the sync thread closes the databases once its command has ended
        store = engine.stores["user"]
        try:
            with store.lock:  # never touch a connection while another thread closes it
                store.conn.execute("SELECT 1")
        except sqlite3.ProgrammingError:
            break
        assert time.monotonic() < deadline, "the databases were never closed"
        time.sleep(0.02)
    with SyncEngine(URL, db, transport=FakeTransport(server)) as again:
        assert again.stores["user"].integrity_check() == "ok"
        assert again.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        # The local create survived the stopped sync and reached the server exactly once.
        assert [o["name"] for o in again.model("Product").find_all()].count("mine") == 1
        assert [a.get("name") for a in server.data["Product"].values()].count("mine") == 1


def test_resolving_uncertain_creates_with_an_unwritable_settings_file_completes_the_sync(
    engine: SyncEngine, server: FakeServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A push broke off (creates held as uncertain); by the next sync the disk is full: the pull
    that resolves them must still complete, and the create reach the server exactly once."""
    login(engine)
    engine.model("Product").create({"name": "held"})
    server.fail("push", "timeout")
    engine.dosync().wait(WAIT)
    assert engine._settings.uncertain_creates.get("Product")
    unwritable_settings(tmp_path / "app.sqlite")
    with caplog.at_level(logging.WARNING, logger="rhoconnect_client"):
        for _ in range(2):  # resolve (and re-send if the server never saw it)
            assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
    assert any("uncertain creates" in r.getMessage() for r in caplog.records)
    assert [a.get("name") for a in server.data["Product"].values()].count("held") == 1
    assert engine.stores["user"].pending_count() == 0
