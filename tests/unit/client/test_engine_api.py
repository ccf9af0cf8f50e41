"""The public ``SyncEngine`` API against the Rhodes ``SyncEngine`` API documentation: argument checks
at the call (nothing queued, nothing sent), ``get_user_name``, the sync mutex, notification removal
and ``-1`` routing by id and name."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live_mock import requests_of
from rhoconnect_client.engine import SyncEngine
from rhoconnect_client.exceptions import UnknownSource
from rhoconnect_mock import MockServer

WAIT = 10
SERVER_DATA = {"Product": {"1": {"name": "one"}}, "Customer": {"c1": {"first": "Ann"}}}


@pytest.fixture
def engine(server: MockServer, tmp_path: Path) -> Iterator[SyncEngine]:
    eng = SyncEngine(server.url, tmp_path / "db.sqlite")
    eng.add_model("Product", sync_priority=1)
    eng.add_model("Customer", sync_priority=2, partition="app")
    eng.add_model("Note", sync_type="none", partition="local")
    yield eng
    eng.close()


BAD_CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any], type[Exception], str]] = [
    ("login", (None, "pw"), {}, TypeError, "login must be a str"),
    ("login", ("alice", 42), {}, TypeError, "password must be a str"),
    ("login", ("alice", "pw", "/app/Settings/login_callback"), {}, ValueError, "http"),
    ("login", ("alice", "pw", 5), {}, TypeError, "callback must be a callable"),
    ("dosync", ("false",), {}, TypeError, "show_sync_status"),
    ("dosync", (True, 7), {}, TypeError, "query_params"),
    ("dosync_source", (1.5,), {}, TypeError, "source_id_or_name"),
    ("dosync_source", ("",), {}, ValueError, "empty"),
    ("set_notification", (42, print), {}, UnknownSource, "42"),
    ("set_notification", ("Nosuch", print), {}, UnknownSource, "Nosuch"),
    ("set_notification", (-1, "ftp://x/cb"), {}, ValueError, "http"),
    ("set_notification", (-1, print, 3), {}, TypeError, "params"),
    ("clear_notification", ("Nosuch",), {}, UnknownSource, "Nosuch"),
    ("set_objectnotify_url", (object(),), {}, TypeError, "callback"),
    ("add_objectnotify", (-1, "1"), {}, ValueError, "-1"),
    ("add_objectnotify", ("Product", 1), {}, TypeError, "object_id"),
    ("on_sync_create_error", ("Nosuch", ["1"], "delete"), {}, UnknownSource, "Nosuch"),
    ("set_pollinterval", (-1,), {}, ValueError, "interval must be >= 0"),
    ("set_pollinterval", ("60",), {}, TypeError, "interval"),
    ("set_pollinterval", (math.nan,), {}, ValueError, "interval"),
    ("set_syncserver", ("",), {}, ValueError, "http"),
    ("set_syncserver", ("localhost:9292",), {}, ValueError, "http"),
    ("set_syncserver", (None,), {}, TypeError, "server_url"),
    ("set_pagesize", (-5,), {}, ValueError, "size must be >= 1"),
    ("set_pagesize", (0,), {}, ValueError, "size must be >= 1"),
    ("set_pagesize", ("100",), {}, TypeError, "size must be an int"),
    ("set_pagesize", (True,), {}, TypeError, "size must be an int"),
    ("enable_status_popup", ("yes",), {}, TypeError, "flag"),
    ("set_ssl_verify_peer", (None,), {}, TypeError, "flag"),
    ("add_model", ("Memo",), {"partition": "local"}, ValueError, "sync_type must be 'none'"),
    ("add_model", ("Memo", 1, "bulk_sync_only", "local"), {}, ValueError, "never synced"),
    ("search", (["Nosuch"],), {}, UnknownSource, "Nosuch"),
    ("search", (42,), {}, TypeError, "source_names"),
    ("search", (["Product"],), {"offset": -1}, ValueError, "offset"),
    ("search", (["Product"],), {"max_results": "10"}, TypeError, "max_results"),
    ("search", (["Product"],), {"search_params": "name=x"}, TypeError, "search_params"),
    ("search", (["Product"],), {"progress_step": 1.5}, TypeError, "progress_step"),
    ("search", (["Product"],), {"callback": 3}, TypeError, "callback"),
    ("search", (["Product"],), {"sync_changes": "no"}, TypeError, "sync_changes"),
]


@pytest.mark.parametrize(("call", "args", "kwargs", "error", "message"), BAD_CALLS)
def test_bad_input_raises_at_the_call_and_sends_nothing(
    engine: SyncEngine,
    server: MockServer,
    call: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    before = (
        engine.get_pagesize(),
        engine.server_url,
        engine.set_pollinterval(0),
        engine.get_ssl_verify_peer(),
    )
    with pytest.raises(error, match=message):
        getattr(engine, call)(*args, **kwargs)
    assert engine.wait_idle(WAIT)
    assert list(server.journal()) == []  # nothing was queued or sent
    assert (
        engine.get_pagesize(),
        engine.server_url,
        engine.set_pollinterval(0),
        engine.get_ssl_verify_peer(),
    ) == before


@pytest.mark.parametrize("source", ["Nosuch", 99, "Note"])
def test_dosync_source_of_a_source_the_engine_does_not_sync_is_error_3(
    engine: SyncEngine, server: MockServer, source: str | int
) -> None:
    """Rhodes reports it from the sync thread (features/sync/dosync_source.feature): ``error`` 3
    to the ``-1`` callback, nothing sent; ``Note`` is local-only (sync_type none)."""
    assert engine.login("alice", "secret").wait(WAIT)["error_code"] == 0  # type: ignore[index]
    server.clear_journal()
    events: list[dict[str, Any]] = []
    engine.set_notification(-1, events.append)
    result = engine.dosync_source(source).wait(WAIT)
    assert result is not None and events == [result]
    assert (result["status"], result["error_code"], result["rho_error_code"]) == ("error", 3, 3)
    assert str(source) in result["error_message"] and list(server.journal()) == []


def test_dosync_source_of_a_bulk_sync_only_source_syncs_it(server: MockServer, tmp_path: Path) -> None:
    """``dosync`` skips a ``bulk_sync_only`` source (the Rhodes C++ client's ``syncOneSource``), but
    ``dosync_source``
    asked for it by name syncs it like any other (the Rhodes C++ client's ``doSyncSource`` finds it and calls
    ``sync``)."""
    with SyncEngine(server.url, tmp_path / "b.sqlite") as engine:
        engine.add_model("Product", sync_type="bulk_sync_only")
        engine.add_model("Customer")
        assert engine.login("alice", "secret").wait(WAIT)["error_code"] == 0  # type: ignore[index]

        def queried() -> list[str]:
            return [str(entry.source) for entry in requests_of(server, "query")]

        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        assert "Product" not in queried() and "Customer" in queried()
        result = engine.dosync_source("Product").wait(WAIT)
        assert result is not None and (result["status"], result["error_code"]) == ("ok", 0)
        assert "Product" in queried()
        assert engine.model("Product").find("1") == {"object": "1", "name": "one"}


def test_settings_saved_from_several_threads_at_once(engine: SyncEngine, tmp_path: Path) -> None:
    """The app thread and the sync thread both save the rhoconfig file (``bulksync_state``, held
    creates, the user name); concurrent saves must neither fail nor leave a damaged file."""
    errors: list[BaseException] = []

    def save_often(value: int) -> None:
        try:
            for _ in range(200):
                engine.bulksync_state = value
        except BaseException as exc:  # any failure is the finding
            errors.append(exc)

    threads = [threading.Thread(target=save_often, args=(i % 2,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    saved = json.loads((tmp_path / "db-rhoconfig.json").read_text(encoding="utf-8"))
    assert saved["bulksync_state"] in (0, 1)


def test_a_partition_opened_while_the_sync_thread_walks_them(
    server: MockServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``add_model`` on the app thread may open a partition in the middle of a sync: the sync
    thread walks a snapshot of the partitions, never the live dict (which would raise)."""
    eng = SyncEngine(server.url, tmp_path / "p.sqlite")
    try:
        eng.add_model("Product")
        assert eng.login("alice", "secret").wait(WAIT)["error_code"] == 0  # type: ignore[index]
        user = eng.stores["user"]
        walked = user.sources
        opened: list[bool] = []

        def sources_while_the_app_declares_a_model() -> list[Any]:
            if not opened:  # the app thread's add_model, interleaved at this point
                opened.append(True)
                eng.add_model("Customer", partition="app")
            return walked()

        monkeypatch.setattr(user, "sources", sources_while_the_app_declares_a_model)
        result = eng.dosync().wait(WAIT)
        assert opened and result is not None and result["status"] == "complete", result
        assert eng.model("Product").count() == 1
    finally:
        eng.close()


def test_bad_constructor_options(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="server_url"):
        SyncEngine("localhost:9292", tmp_path / "a.sqlite")
    with pytest.raises(ValueError, match="page_size"):
        SyncEngine("http://h/application", tmp_path / "a.sqlite", page_size=0)
    with pytest.raises(ValueError, match="poll_interval"):
        SyncEngine("http://h/application", tmp_path / "a.sqlite", poll_interval=-1)


def test_good_input_of_every_accepted_shape(engine: SyncEngine) -> None:
    """The same calls with the types the seed allows: ids and names, 0/1 flags, mapping or string
    params and query_params, http(s) URLs, ``:symbol`` actions."""
    assert engine.login("alice", "secret").wait(WAIT)["error_code"] == 0  # type: ignore[index]
    product_id = engine.model("Product").source.source_id
    engine.set_notification(product_id, print, "a=1")
    engine.set_notification("Product", None)  # None clears, by name
    engine.set_notification(str(product_id), lambda p: None, {"a": 1})
    engine.clear_notification(product_id)
    engine.set_notification("-1", "https://app.invalid/cb")
    engine.clear_notification(-1)
    engine.set_objectnotify_url("http://app.invalid/objects")
    engine.add_objectnotify("Product", "1")
    engine.set_objectnotify_url(None)
    engine.set_pagesize(1)
    assert engine.set_pollinterval(0.5) == 0 and engine.set_pollinterval(0) == 0.5
    # Rhodes apps pass 0/1 and nil where the seed says true/false or a string: accepted as such.
    engine.enable_status_popup(0)  # type: ignore[arg-type]
    engine.set_ssl_verify_peer(1)  # type: ignore[arg-type]
    assert engine.get_ssl_verify_peer() is True
    result = engine.dosync_source(product_id, 0, {"since": "2020"}).wait(WAIT)  # type: ignore[arg-type]
    assert result is not None and (result["status"], result["source_name"]) == ("ok", "Product")
    assert engine.dosync(False, None).wait(WAIT)["status"] == "complete"  # type: ignore[arg-type,index]
    engine.on_sync_create_error("Product", [], ":delete")
    assert engine.search("Product", "search", {"q": "x"}, 0, 10, None, "x=1", 5, False).wait(WAIT) is not None


def test_get_user_name_is_a_string_current_or_last(engine: SyncEngine) -> None:
    assert engine.get_user_name() == ""
    assert engine.login("alice", "secret").wait(WAIT)["error_code"] == 0  # type: ignore[index]
    assert engine.get_user_name() == "alice"
    engine.logout()
    assert not engine.logged_in() and engine.get_user_name() == "alice"  # the last logged-in user


def test_sync_mutex_pairs_and_unmatched_unlock(server: MockServer, tmp_path: Path) -> None:
    engine = SyncEngine(server.url, tmp_path / "m.sqlite")
    engine.add_model("Product")
    with pytest.raises(RuntimeError, match="without a matching lock_sync_mutex"):
        engine.unlock_sync_mutex()
    engine.lock_sync_mutex()
    engine.lock_sync_mutex()  # re-entrant
    engine.add_model("Customer", partition="app")  # a partition store opened while locked
    assert set(engine.stores) == {"user", "app"}
    engine.unlock_sync_mutex()
    engine.unlock_sync_mutex()
    for store in engine.stores.values():  # every lock released exactly as often as taken
        assert store.lock.acquire(blocking=False)
        store.lock.release()
        assert not store.lock._is_owned()  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError):
        engine.unlock_sync_mutex()
    with engine.sync_mutex():
        engine.model("Product").create({"name": "in a batch"})
    engine.close()


def test_a_client_id_stays_with_its_server_across_restarts(server: MockServer, tmp_path: Path) -> None:
    """A server change drops the client id and the session, with the URL remembered beside the
    database (Rhodes rhoconfig ``syncserver``): reopening the database on another server drops them;
    on the same one keeps them. Only the mock's URL is ever contacted."""
    db = tmp_path / "restart.sqlite"
    one = server.url

    def open_engine(url: str) -> SyncEngine:
        eng = SyncEngine(url, db)
        eng.add_model("Product")
        return eng

    first = open_engine(one)
    assert first.login("alice", "secret").wait(WAIT)["error_code"] == 0  # type: ignore[index]
    assert first.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
    client_id = first.stores["user"].client_info().client_id
    first.close()
    same = open_engine(one + "/")  # a trailing slash is the same server
    assert same.logged_in() and same.stores["user"].client_info().client_id == client_id
    same.close()
    other = open_engine("http://two.invalid/application")
    assert not other.logged_in() and other.stores["user"].client_info().client_id is None
    assert other.get_user_name() == "alice" and other.server_url == "http://two.invalid/application"
    assert other.model("Product").count() == 1  # local data stays; the next sync refreshes it
    other.close()
    back = open_engine("http://two.invalid/application")
    assert back.stores["user"].client_info().client_id is None  # nothing else was dropped
    back.set_syncserver(one)  # remembered: reopening on one keeps the id
    assert back.login("alice", "secret").wait(WAIT)["error_code"] == 0  # type: ignore[index]
    assert back.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
    client_id = back.stores["user"].client_info().client_id
    back.close()
    again = open_engine(one)
    assert again.logged_in() and again.stores["user"].client_info().client_id == client_id
    again.close()
