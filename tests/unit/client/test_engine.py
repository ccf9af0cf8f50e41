"""SyncEngine through its public API against the mock server: login, paging and tokens, push and
links, notifications and their routing, the sync thread (merge, stop, poll, mutex)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from live_mock import (
    SHORT_TIMEOUT,
    CallbackReceiver,
    Gates,
    lose_answer,
    mock_config,
    pushed_bodies,
    query_params,
    records,
    requests_of,
    searched,
)
from mutex_harness import call_holding_the_mutex, watched_mutex
from rhoconnect_client.engine import SyncEngine
from rhoconnect_client.notify import BulkParams, ErrorFields, ObjectNotifyParams, SearchParams, SyncParams
from rhoconnect_mock import MockServer

WAIT = 10


def products(n: int) -> dict[str, dict[str, str]]:
    return {str(i): {"name": f"Product {i}", "price": f"{i}.25"} for i in range(1, n + 1)}


SERVER_DATA = {"Product": products(5), "Customer": {"c1": {"first": "Ann"}}}

MakeEngine = Callable[..., SyncEngine]


@pytest.fixture
def make_engine(server: MockServer, tmp_path: Path) -> Iterator[MakeEngine]:
    """``make_engine(**options)``: an engine on the mock with Product and Customer, closed at the end."""
    made: list[SyncEngine] = []

    def make(name: str = "app.sqlite", **options: Any) -> SyncEngine:
        eng = SyncEngine(server.url, tmp_path / name, **options)
        eng.add_model("Product", sync_priority=1)
        eng.add_model("Customer", sync_priority=2)
        made.append(eng)
        return eng

    yield make
    for eng in made:
        eng.close()


@pytest.fixture
def engine(make_engine: MakeEngine) -> SyncEngine:
    return make_engine()


def login(engine: SyncEngine) -> None:
    assert engine.login("alice", "secret").wait(WAIT) == {
        "error_code": 0,
        "rho_error_code": 0,
        "error_message": "",
    }


def local(engine: SyncEngine, name: str) -> dict[str, dict[str, str]]:
    return {o.pop("object"): o for o in engine.model(name).find_all()}


def test_login_success_and_failure(engine: SyncEngine) -> None:
    calls: list[dict[str, Any]] = []
    assert not engine.logged_in()
    bad = engine.login("alice", "wrong", calls.append).wait(WAIT)
    assert bad == {"error_code": 401, "rho_error_code": 9, "error_message": "Unable to authenticate 'alice'"}
    assert calls == [bad] and not engine.logged_in()
    assert engine.login("alice", "secret", calls.append).wait(WAIT) == {
        "error_code": 0,
        "rho_error_code": 0,
        "error_message": "",
    }
    assert engine.logged_in() and engine.get_user_name() == "alice"


def test_dosync_without_session_reports_error_7_to_global_callback(engine: SyncEngine) -> None:
    seen: list[dict[str, Any]] = []
    engine.set_notification(-1, seen.append, {"from": "app"})
    result = engine.dosync().wait(WAIT)
    assert result is not None
    assert (result["status"], result["error_code"], result["rho_error_code"]) == ("error", 7, 7)
    assert seen == [result] and result["from"] == "app"


def test_full_sync_pages_tokens_and_counters(engine: SyncEngine, server: MockServer) -> None:
    login(engine)
    engine.set_pagesize(2)
    events: list[dict[str, Any]] = []
    engine.set_notification(-1, events.append, "tag=x")
    result = engine.dosync().wait(WAIT)
    assert result == {
        "status": "complete",
        "sync_type": "incremental",
        "error_code": 0,
        "rho_error_code": 0,
        "error_message": "",
        "tag": "x",
    }
    assert local(engine, "Product") == records(server, "Product")
    assert local(engine, "Customer") == records(server, "Customer")
    queries = requests_of(server, "query", "Product")
    assert queries[0].token_sent is None  # the first request of a run never carries a token
    assert all(q.token_sent is not None for q in queries[1:]) and len(queries) == 4
    progress = [
        (e["processed_count"], e["cumulative_count"], e["total_count"])
        for e in events
        if e.get("source_name") == "Product" and e["status"] == "in_progress"
    ]
    assert progress == [(2, 2, 5), (2, 4, 5), (1, 5, 5)]
    statuses = [(e.get("source_name"), e["status"]) for e in events if e["status"] != "in_progress"]
    assert statuses == [("Product", "ok"), ("Customer", "ok"), (None, "complete")]
    ok = next(e for e in events if e["status"] == "ok")
    assert ok["source_id"] == engine.model("Product").source.source_id
    assert isinstance(ok["source_id"], int) and ok["sync_type"] == "incremental"
    # A second sync sends the stored token nowhere first and gets nothing new.
    server.clear_journal()
    assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
    assert [e.token_sent for e in requests_of(server, "query")] == [None, None]


def assert_fits(params: dict[str, Any], kind: Any, extra: frozenset[str] = frozenset()) -> None:
    """``params`` has every required key of the ``TypedDict`` ``kind``, and no key it does not
    declare (besides the registration's own ``extra`` params)."""
    keys = set(params) - extra
    declared = kind.__required_keys__ | kind.__optional_keys__
    assert kind.__required_keys__ <= keys <= declared, (kind.__name__, params)


def test_every_notification_has_the_keys_of_its_parameter_set(engine: SyncEngine, server: MockServer) -> None:
    """What the callbacks receive is what ``notify`` declares: the login's ``ErrorFields``, sync
    events (``SyncParams``), bulk events, object notifications and search events."""
    events: list[dict[str, Any]] = []
    engine.set_notification(-1, events.append, {"mine": "1"})
    engine.dosync().wait(WAIT)  # not logged in: an error that names no source
    login_result = engine.login("alice", "secret").wait(WAIT)
    assert login_result is not None
    assert_fits(login_result, ErrorFields)
    engine.bulksync_state = 0
    bad = engine.model("Product").create({"name": "Bad"})["object"]
    server.fail("cud", "create-error", objects=[bad], message="no", times=1)
    assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
    objects: list[dict[str, Any]] = []
    engine.set_objectnotify_url(objects.append)
    engine.add_objectnotify("Product", "2")
    server.push_changes("Product", "alice", update={"2": {"price": "9"}})
    assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
    found: list[dict[str, Any]] = []
    server.push_changes("Product", "alice", insert={"found-1": {"name": "Needle", "brand": "Rare"}})
    engine.search("Product", search_params={"brand": "Rare"}, callback=found.append, callback_param="s=1")
    assert engine.wait_idle(WAIT)
    for params in events:
        assert_fits(params, BulkParams if params["sync_type"] == "bulk" else SyncParams, frozenset({"mine"}))
    seen = {(p["sync_type"], p["status"], p.get("error_code")) for p in events}
    assert {("incremental", "error", 7), ("incremental", "error", 8), ("bulk", "in_progress", None)} <= seen
    assert {
        ("incremental", "in_progress", None),
        ("incremental", "ok", 0),
        ("incremental", "complete", 0),
    } <= seen
    assert [o["updated"] for o in objects] == [[{"object": "2", "source_id": 1}]]
    for params in objects:
        assert_fits(params, ObjectNotifyParams)
    assert [p["status"] for p in found] == ["in_progress", "complete"]
    for params in found:
        assert_fits(params, SearchParams, frozenset({"s"}))


def test_per_source_callback_is_one_shot_global_stays(engine: SyncEngine) -> None:
    login(engine)
    mine: list[dict[str, Any]] = []
    everyone: list[dict[str, Any]] = []
    pid = engine.model("Product").source.source_id
    engine.set_notification(pid, mine.append, {"k": "v"})
    engine.set_notification(-1, everyone.append)
    engine.dosync().wait(WAIT)
    assert [e["status"] for e in mine] == ["in_progress", "ok"] and all(e["k"] == "v" for e in mine)
    assert [e.get("source_name") for e in everyone] == ["Customer", "Customer", None]
    mine.clear()
    everyone.clear()
    engine.dosync().wait(WAIT)
    assert mine == [] and [e["status"] for e in everyone] == ["ok", "ok", "complete"]
    engine.clear_notification(-1)
    everyone.clear()
    engine.dosync().wait(WAIT)
    assert everyone == []


def test_resent_page_is_not_applied_twice(engine: SyncEngine, server: MockServer, gates: Gates) -> None:
    login(engine)
    engine.set_pagesize(3)
    events: list[dict[str, Any]] = []
    engine.set_notification(-1, events.append)
    # The answer to the acknowledgement repeats the first page, as from a server that missed it:
    # the acknowledgement is held until a rule answers it with the first page's exact bytes.
    acknowledgement = gates.hold("GET", "/application", "token=")
    handle = engine.dosync_source("Product")
    acknowledgement.wait_arrived()
    first = requests_of(server, "query", "Product")[0]
    assert first.response_body is not None and '"count":3' in first.response_body
    server.fail("query", status=200, body=first.response_body, content_type="application/json", times=1)
    acknowledgement.release()
    result = handle.wait(WAIT)
    assert result is not None and result["status"] == "ok"
    tokens = [e.token_sent for e in requests_of(server, "query")]
    assert tokens[0] is None and tokens[1] == tokens[2]  # re-acknowledged after the re-send
    progress = [e["cumulative_count"] for e in events if e["status"] == "in_progress"]
    assert progress == [3, 5]
    assert local(engine, "Product") == records(server, "Product")


def test_dosync_source_by_name_and_id_and_unknown(engine: SyncEngine) -> None:
    login(engine)
    result = engine.dosync_source("Customer").wait(WAIT)
    assert result is not None and (result["status"], result["source_name"]) == ("ok", "Customer")
    assert local(engine, "Product") == {}
    pid = engine.model("Product").source.source_id
    result = engine.dosync_source(pid).wait(WAIT)
    assert result is not None and result["source_name"] == "Product"
    unknown = engine.dosync_source("Nosuch").wait(WAIT)
    assert unknown is not None and (unknown["status"], unknown["error_code"]) == ("error", 3)


def test_push_create_update_delete_and_links(engine: SyncEngine, server: MockServer) -> None:
    login(engine)
    engine.dosync().wait(WAIT)
    model = engine.model("Product")
    created = model.create({"name": "New", "price": "9"})
    temp = created["object"]
    model.update("1", {"price": "99"})
    model.destroy("2")
    watched: list[dict[str, Any]] = []
    engine.set_objectnotify_url(watched.append)
    engine.add_objectnotify("Product", temp)
    assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
    push = pushed_bodies(server)[0]
    assert list(push) == ["source_name", "client_id", "create", "update", "delete"]
    assert push["create"] == {temp: {"name": "New", "price": "9"}}
    assert push["update"] == {"1": {"price": "99"}}
    assert push["delete"] == {"2": {"name": "Product 2", "price": "2.25"}}
    assert local(engine, "Product") == records(server, "Product")
    assert model.find(temp) is None
    assert engine.stores["user"].pending_count() == 0
    assert watched and watched[0]["created"] == [{"object": temp, "source_id": model.source.source_id}]


def test_adapter_errors_notify_code_8_and_sync_continues(engine: SyncEngine, server: MockServer) -> None:
    login(engine)
    engine.dosync().wait(WAIT)
    bad = engine.model("Product").create({"name": "Bad"})["object"]
    server.fail("cud", "create-error", objects=[bad], message="duplicate", times=1)
    pid = engine.model("Product").source.source_id
    mine: list[dict[str, Any]] = []
    everyone: list[dict[str, Any]] = []
    engine.set_notification(pid, mine.append)
    engine.set_notification(-1, everyone.append)
    result = engine.dosync().wait(WAIT)
    assert result is not None and result["status"] == "complete"
    assert len(mine) == 1
    error = mine[0]
    assert (error["status"], error["error_code"], error["rho_error_code"]) == ("error", 8, 8)
    assert error["server_errors"] == {
        "create-error": {bad: {"message": "duplicate", "attributes": {"name": "Bad"}}}
    }
    assert [(e.get("source_name"), e["status"]) for e in everyone][:1] == [("Product", "ok")]
    # Recovery through the API: recreate pushes it again once the adapter accepts it.
    engine.on_sync_create_error("Product", error["server_errors"]["create-error"], ":recreate")
    engine.dosync().wait(WAIT)
    assert local(engine, "Product") == records(server, "Product")
    assert any(a == {"name": "Bad"} for a in records(server, "Product").values())


def test_update_error_rollback(engine: SyncEngine, server: MockServer) -> None:
    login(engine)
    engine.dosync().wait(WAIT)
    server.fail("cud", "update-error", objects=["3"], message="rejected", times=1)
    engine.model("Product").update("3", {"price": "-1"})
    errors: list[dict[str, Any]] = []
    engine.set_notification(-1, lambda p: errors.append(p) if p["status"] == "error" else None)
    engine.dosync().wait(WAIT)
    server_errors = errors[0]["server_errors"]
    assert server_errors["update-error"]["3"] == {"message": "rejected", "attributes": {"price": "-1"}}
    assert server_errors["update-rollback"]["3"]["attributes"]["price"] == "3.25"
    engine.on_sync_update_error(
        "Product", server_errors["update-error"], "rollback", server_errors["update-rollback"]
    )
    assert engine.model("Product").find("3")["price"] == "3.25"  # type: ignore[index]


@pytest.mark.parametrize(
    ("kind", "rule", "code", "rho"),
    [
        ("status", {"status": 500, "body": "boom"}, 500, 2),
        ("status", {"status": 404, "body": ""}, 404, 2),
        ("connection", {"action": "reset"}, 1, 1),
        ("timeout", {}, 1, 1),
        ("body", {"action": "malformed_json", "body": '[{"version":3},{"tok'}, 4, 4),
        ("body", {"action": "malformed_json", "body": "not json"}, 4, 4),
        ("body", {"action": "empty_array"}, 4, 4),
        ("body", {"action": "wrong_version", "version": 2}, 11, 11),
    ],
)
def test_query_failures_report_and_lose_nothing(
    make_engine: MakeEngine, server: MockServer, kind: str, rule: dict[str, Any], code: int, rho: int
) -> None:
    engine = make_engine(timeout=SHORT_TIMEOUT) if kind == "timeout" else make_engine()
    login(engine)
    engine.set_pagesize(2)
    engine.dosync().wait(WAIT)
    new = engine.model("Product").create({"name": "Local"})["object"]
    server.push_changes("Product", "alice", insert={"9": {"name": "Server new"}})
    if kind == "timeout":
        lose_answer(server, "query", source="Product")
    else:
        server.fail("query", source="Product", times=1, **rule)
    events: list[dict[str, Any]] = []
    engine.set_notification(-1, events.append)
    result = engine.dosync().wait(WAIT)
    assert result is not None and result["status"] == "complete"  # other sources go on
    error = next(e for e in events if e["status"] == "error")
    assert (error["source_name"], error["error_code"], error["rho_error_code"]) == ("Product", code, rho)
    if kind == "status":
        assert error["error_message"] == rule["body"]
    assert engine.stores["user"].integrity_check() == "ok"
    engine.dosync().wait(WAIT)
    assert local(engine, "Product") == records(server, "Product")
    assert any(a == {"name": "Local"} for a in records(server, "Product").values())
    assert engine.model("Product").find(new) is None  # linked to its server id


def test_push_failure_rolls_back_and_skips_pull(engine: SyncEngine, server: MockServer) -> None:
    login(engine)
    engine.dosync().wait(WAIT)
    engine.model("Product").update("1", {"price": "7"})
    server.fail("cud", status=503, times=1)  # not processed...
    server.fail("cud", "reset", times=1)  # ...and the connection broken instead of an answer
    events: list[dict[str, Any]] = []
    engine.set_notification(-1, events.append)
    engine.dosync().wait(WAIT)
    assert next(e for e in events if e["status"] == "error")["error_code"] == 1
    journal = list(server.journal())
    after_push = journal[max(i for i, e in enumerate(journal) if e.operation == "cud") + 1 :]
    assert not any(e.operation == "query" and e.source == "Product" for e in after_push)
    assert records(server, "Product")["1"]["price"] == "1.25"
    assert engine.stores["user"].pending_count() == 1
    engine.dosync().wait(WAIT)
    assert records(server, "Product")["1"]["price"] == "7"
    assert engine.stores["user"].pending_count() == 0


def test_401_clears_session_stops_sync_without_complete(engine: SyncEngine, server: MockServer) -> None:
    login(engine)
    engine.model("Product").create({"name": "Keep me"})
    server.fail("query", status=401, body="Not authenticated", times=1)
    events: list[dict[str, Any]] = []
    engine.set_notification(-1, events.append)
    result = engine.dosync().wait(WAIT)
    assert result is not None
    assert (result["status"], result["error_code"], result["rho_error_code"], result["error_message"]) == (
        "error",
        401,
        9,
        "Not authenticated",
    )
    assert [e["status"] for e in events] == ["error"]  # no Customer, no complete
    assert not engine.logged_in()
    assert engine.stores["user"].client_info().client_id  # the client id stays
    assert len(requests_of(server, "login")) == 1  # no automatic re-login
    assert engine.stores["user"].pending_count() == 1


def test_unknown_client_recovers_with_exactly_the_servers_data(
    engine: SyncEngine, server: MockServer
) -> None:
    login(engine)
    engine.dosync().wait(WAIT)
    server.reset()  # the server lost every client (its data are as before)
    server.push_changes("Product", "alice", delete=["4"])
    local_new = engine.model("Product").create({"name": "Offline"})["object"]
    events: list[dict[str, Any]] = []
    engine.set_notification(-1, events.append)
    engine.dosync().wait(WAIT)
    error = next(e for e in events if e["status"] == "error")
    assert (error["error_code"], error["error_message"]) == (500, "Unknown client")
    engine.dosync().wait(WAIT)
    assert local(engine, "Product") == records(server, "Product")
    assert "4" not in local(engine, "Product")
    assert engine.model("Product").find(local_new) is None
    assert any(a == {"name": "Offline"} for a in records(server, "Product").values())


def test_schema_changed_ends_the_sync(tmp_path: Path) -> None:
    """A server tells a client that the schema it synced with has changed: the mock does that for a
    source with a fixed schema (this test's own server) once the client has synced it."""
    schema = {"version": "1.0", "property": {"name": "string", "price": "string"}}
    config = mock_config(SERVER_DATA, tmp_path, sources={"Product": {"priority": 1, "schema": schema}})
    with MockServer(config) as server, SyncEngine(server.url, tmp_path / "s.sqlite") as engine:
        engine.add_model("Product", sync_priority=1)
        engine.add_model("Customer", sync_priority=2)
        login(engine)
        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        server.fail("query", "schema_changed", source="Product", times=1)
        events: list[dict[str, Any]] = []
        engine.set_notification(-1, events.append)
        result = engine.dosync().wait(WAIT)
        assert result is not None and result["status"] == "schema-changed"
        assert result["source_name"] == "Product"
        assert "complete" not in [e["status"] for e in events]
        assert server.mock_errors() == []


def test_identical_queued_commands_are_merged(engine: SyncEngine, server: MockServer, gates: Gates) -> None:
    login(engine)
    gate = gates.hold("GET", "/application/clientcreate")
    first = engine.dosync_source("Customer")
    gate.wait_arrived()  # the first command is running (held)
    second = engine.dosync()
    third = engine.dosync()
    other = engine.dosync(False)
    assert second is third and second is not other
    gate.release()
    assert first.wait(WAIT) is not None and second.wait(WAIT) is not None and other.wait(WAIT) is not None
    assert len(requests_of(server, "clientcreate")) == 1


def test_stop_sync_cancels_in_flight_request_and_silences_notifications(
    engine: SyncEngine, server: MockServer, gates: Gates
) -> None:
    login(engine)
    engine.model("Product").create({"name": "Pending"})
    gate = gates.hold("GET", "/application")
    events: list[dict[str, Any]] = []
    engine.set_notification(-1, events.append)
    handle = engine.dosync()
    queued = engine.dosync_source("Customer")
    gate.wait_arrived()
    started = time.monotonic()
    engine.stop_sync()
    assert time.monotonic() - started < 2
    gate.release()
    assert handle.wait(WAIT) is not None and handle.stopped and queued.stopped
    assert handle.result is not None and handle.result["error_code"] == 10
    assert events == []
    store = engine.stores["user"]
    assert store.integrity_check() == "ok"
    assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
    assert local(engine, "Product") == records(server, "Product")


def test_stop_sync_while_the_app_holds_the_sync_mutex_does_not_hang(
    engine: SyncEngine, server: MockServer
) -> None:
    """The sync thread may be waiting for the very mutex the app holds: ``stop_sync`` (and so
    ``logout``, ``login``, ``search``) then flags the stop and returns instead of waiting forever;
    the sync stops, silently, once the app lets go."""
    login(engine)
    events: list[dict[str, Any]] = []
    engine.set_notification(-1, events.append)
    ok, handle = call_holding_the_mutex(engine, engine.logout, WAIT)
    assert ok, "stop_sync waited for a sync thread blocked on the app's own mutex"
    assert handle.wait(WAIT) is not None and handle.stopped
    assert events == [] and not engine.logged_in()
    login(engine)
    assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]


def test_sync_mutex_blocks_page_apply(engine: SyncEngine, server: MockServer) -> None:
    login(engine)
    with watched_mutex(engine) as sync_waits, engine.sync_mutex():
        handle = engine.dosync()
        assert sync_waits.wait(WAIT), "the sync thread never reached the mutex"
        assert not handle.done()
        assert engine.model("Product").count() == 0  # nothing applied while the app holds the mutex
    assert handle.wait(WAIT) is not None
    assert engine.model("Product").count() == 5


def test_logout_and_set_syncserver(engine: SyncEngine, server: MockServer) -> None:
    login(engine)
    engine.dosync().wait(WAIT)
    client_id = engine.stores["user"].client_info().client_id
    requests_before = len(server.journal())
    engine.logout()
    assert not engine.logged_in() and len(server.journal()) == requests_before
    assert engine.stores["user"].client_info().client_id == client_id
    assert engine.get_user_name() == "alice"
    login(engine)
    engine.set_syncserver(server.url + "/")  # same URL: nothing changes
    assert engine.logged_in()
    engine.set_syncserver("http://other.invalid/application")
    assert not engine.logged_in() and engine.stores["user"].client_info().client_id is None
    assert engine.server_url == "http://other.invalid/application"


def test_pollinterval_and_pagesize(
    engine: SyncEngine, server: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert engine.get_pagesize() == 2000
    engine.set_pagesize(50)
    assert engine.get_pagesize() == 50
    # Each poll asks whether there is a session: two asks are two polls that found none.
    polls: list[bool] = []
    two_polls = threading.Event()
    logged_in = engine.logged_in

    def counted() -> bool:
        answer = logged_in()
        polls.append(answer)
        if polls.count(False) >= 2:
            two_polls.set()
        return answer

    monkeypatch.setattr(engine, "logged_in", counted)
    done = threading.Event()
    engine.set_notification(-1, lambda params: done.set() if params["status"] == "complete" else None)
    assert engine.set_pollinterval(0.2) == 0
    assert two_polls.wait(WAIT)
    assert requests_of(server, "query") == []  # not logged in: polling does nothing
    login(engine)
    assert done.wait(WAIT), "no poll sync after the login"
    assert engine.model("Product").count() == 5
    assert engine.set_pollinterval(0) == 0.2


def test_url_callbacks_post_bracket_notation(engine: SyncEngine, server: MockServer) -> None:
    login(engine)
    engine.dosync().wait(WAIT)
    temp = engine.model("Product").create({"name": "X"})["object"]
    server.fail("cud", "create-error", objects=[temp], message="no", times=1)
    with CallbackReceiver() as app:
        engine.set_notification(-1, app.url, "extra=1")
        engine.dosync().wait(WAIT)
    posted = [dict(fields) for fields in app.posted]
    error = next(p for p in posted if p["status"] == "error")
    assert error[f"server_errors[create-error][{temp}][message]"] == "no"
    assert error[f"server_errors[create-error][{temp}][attributes][name]"] == "X"
    assert error["error_code"] == "8" and error["extra"] == "1" and error["rho_callback"] == "1"


def test_status_reporter_only_when_enabled(engine: SyncEngine) -> None:
    lines: list[dict[str, Any]] = []
    engine.set_status_reporter(lines.append)
    login(engine)
    engine.dosync(True).wait(WAIT)
    assert lines == []
    engine.enable_status_popup(True)
    engine.dosync(False).wait(WAIT)
    assert lines == []
    engine.dosync(True).wait(WAIT)
    assert [p["status"] for p in lines][-1] == "complete"


def test_a_failing_status_reporter_does_not_break_the_sync(engine: SyncEngine, server: MockServer) -> None:
    """Like a notification callback, the status display is the app's code: its failure is logged
    and the sync goes on."""
    seen: list[str] = []

    def broken(params: dict[str, Any]) -> None:
        seen.append(params["status"])
        raise RuntimeError("the status bar is gone")

    engine.set_status_reporter(broken)
    engine.enable_status_popup(True)
    login(engine)
    result = engine.dosync(True).wait(WAIT)
    assert result is not None and result["status"] == "complete"
    assert seen[-1] == "complete" and local(engine, "Product") == records(server, "Product")


def test_search_with_progress_step(engine: SyncEngine, server: MockServer) -> None:
    login(engine)
    server.push_changes(
        "Product", "alice", insert={str(i): {"name": "x", "brand": "B"} for i in range(10, 17)}
    )
    seen: list[dict[str, Any]] = []
    result = engine.search(
        ["Product"],
        search_params={"brand": "B"},
        callback=seen.append,
        callback_param="from=search",
        progress_step=3,
    ).wait(WAIT)
    assert result is not None and result["status"] == "complete" and result["error_code"] == 0
    assert result["search_params"] == {"brand": "B"} and result["from"] == "search"
    assert [(e["status"], e.get("cumulative_count")) for e in seen] == [
        ("in_progress", 3),
        ("in_progress", 6),
        ("in_progress", 7),
        ("complete", None),
    ]
    assert engine.model("Product").count() == 7
    assert engine.model("Product").source.token == 0
    searches = [searched(e) for e in requests_of(server, "search")]
    assert searches[0] == [("Product", None)] and searches[1][0][1] is not None


def test_search_error(engine: SyncEngine, server: MockServer) -> None:
    login(engine)
    server.fail("search", "search-error", message="search unavailable", times=1)
    result = engine.search(["Product"], search_params={"a": "b"}).wait(WAIT)
    assert result is not None and result["status"] == "error" and result["error_code"] == 8
    assert result["server_errors"] == {"search-error": {"message": "search unavailable"}}


def test_bulk_sync_waits_downloads_and_keeps_local_changes(engine: SyncEngine, server: MockServer) -> None:
    login(engine)
    server.fail("bulk_data", "bulk", result="wait", times=2)
    engine.bulksync_state = 0
    engine._settings.bulk_wait_seconds = 0.01
    mine = engine.model("Customer").create({"first": "Local"})["object"]
    events: list[dict[str, Any]] = []
    engine.set_notification(-1, events.append)
    result = engine.dosync().wait(WAIT)
    assert result is not None and result["status"] == "complete", result
    bulk_events = [
        (e["partition"], e["bulk_status"], e["status"]) for e in events if e["sync_type"] == "bulk"
    ]
    assert bulk_events == [
        ("", "start", "in_progress"),
        ("user", "start", "in_progress"),
        ("user", "download", "in_progress"),
        ("user", "change_db", "in_progress"),
        ("user", "ok", "in_progress"),
        ("", "complete", "ok"),
    ]
    assert engine.bulksync_state == 1
    assert len(requests_of(server, "bulk_data")) == 3
    assert local(engine, "Product") == records(server, "Product")
    assert engine.model("Customer").find(mine) is None  # pushed after the swap, then linked
    assert any(a == {"first": "Local"} for a in records(server, "Customer").values())


def test_bulk_errors(engine: SyncEngine, server: MockServer) -> None:
    login(engine)
    engine.bulksync_state = 0
    server.fail("bulk_data", "bulk", result="empty_url", times=1)  # {"result":"url","url":""}
    result = engine.dosync().wait(WAIT)
    assert result is not None and (result["status"], result["sync_type"], result["bulk_status"]) == (
        "error",
        "bulk",
        "",
    )
    assert result["error_code"] == 4
    server.fail("bulk_file", status=200, body="this is not a zip", times=1)
    result = engine.dosync().wait(WAIT)
    assert result is not None and result["error_code"] == 4 and engine.bulksync_state == 0
    assert engine.stores["user"].integrity_check() == "ok"


def test_a_damaged_bulk_archive_is_a_bulk_error_4(engine: SyncEngine, server: MockServer) -> None:
    """A download damaged inside the compressed data is an unexpected server response (code 4,
    bulk ``error`` notification), not an internal error; the database is untouched."""
    login(engine)
    engine.dosync().wait(WAIT)
    before = local(engine, "Product")
    engine.bulksync_state = 0
    server.fail("bulk_file", "corrupt_file", mode="corrupt", times=1)  # bytes flipped a third in
    result = engine.dosync().wait(WAIT)
    assert result is not None and (result["status"], result["sync_type"]) == ("error", "bulk")
    assert result["error_code"] == 4 and engine.bulksync_state == 0
    assert local(engine, "Product") == before


@pytest.mark.parametrize("server_got_it", [True, False])
def test_push_without_answer_neither_duplicates_nor_loses_creates(
    make_engine: MakeEngine, server: MockServer, server_got_it: bool
) -> None:
    engine = make_engine(timeout=SHORT_TIMEOUT)
    login(engine)
    engine.dosync().wait(WAIT)
    model = engine.model("Product")
    temp = model.create({"name": "Once"})["object"]
    model.update("1", {"price": "5"})
    if server_got_it:
        server.fail("cud", "reset", times=1)  # processed, then the connection is reset
    else:
        lose_answer(server, "cud")
    errors: list[dict[str, Any]] = []
    engine.set_notification(-1, lambda p: errors.append(p) if p["status"] == "error" else None)
    engine.dosync().wait(WAIT)
    assert [e["error_code"] for e in errors] == [1]
    assert engine.stores["user"].pending_count() == 2
    engine.dosync().wait(WAIT)
    copies = [a for a in records(server, "Product").values() if a == {"name": "Once"}]
    assert len(copies) == 1
    assert records(server, "Product")["1"]["price"] == "5"
    assert local(engine, "Product") == records(server, "Product") and model.find(temp) is None
    assert engine.stores["user"].pending_count() == 0
    assert engine._settings.uncertain_creates == {}


def test_a_broken_off_push_that_cannot_be_recorded_sends_its_creates_again(
    make_engine: MakeEngine, server: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The uncertain-create file cannot be written (disk full): the creates must not wait for a link
    nobody remembers; they go back to unsent and reach the server on the next sync."""
    engine = make_engine(timeout=SHORT_TIMEOUT)
    login(engine)
    engine.dosync().wait(WAIT)
    model = engine.model("Product")
    temp = model.create({"name": "Kept"})["object"]
    lose_answer(server, "cud")
    settings = engine._settings

    def disk_full() -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(settings, "save", disk_full)
    engine.dosync().wait(WAIT)
    assert settings.uncertain_creates.get("Product", []) == []
    sent = (
        engine.stores["user"]
        .conn.execute("SELECT DISTINCT sent FROM changed_values WHERE object=?", (temp,))
        .fetchall()
    )
    assert [tuple(row) for row in sent] == [(0,)]
    monkeypatch.undo()
    engine.dosync().wait(WAIT)
    assert [a for a in records(server, "Product").values() if a == {"name": "Kept"}] == [{"name": "Kept"}]
    assert engine.stores["user"].pending_count() == 0


def test_bulk_sync_only_sources_get_data_from_bulk_only(server: MockServer, tmp_path: Path) -> None:
    engine = SyncEngine(server.url, tmp_path / "b.sqlite", bulk_wait_seconds=0.01)
    try:
        engine.add_model("Product", sync_priority=1, sync_type="bulk_sync_only")
        engine.add_model("Customer", sync_priority=2)
        login(engine)
        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        assert engine.model("Product").count() == 0 and engine.model("Customer").count() == 1
        assert requests_of(server, "query", "Product") == []
        engine.bulksync_state = 0
        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        assert local(engine, "Product") == records(server, "Product")
        bulk_data = dict(query_params(requests_of(server, "bulk_data")[0]))
        assert bulk_data["sources"].split(",") == ["Product", "Customer"]
    finally:
        engine.close()


def test_another_user_logging_in_gets_a_bulk_sync_again(server: MockServer, tmp_path: Path) -> None:
    """A user change resets the data as Rhodes ``database_full_reset`` does, which also sets
    ``bulksync_state`` back to 0: else a ``bulk_sync_only`` source would stay
    empty for the new user."""
    engine = SyncEngine(server.url, tmp_path / "u.sqlite", bulk_wait_seconds=0.01, bulksync_state=0)
    try:
        engine.add_model("Product", sync_priority=1, sync_type="bulk_sync_only")
        login(engine)
        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        assert engine.bulksync_state == 1 and engine.model("Product").count() > 0
        assert engine.login("bob", "secret").wait(WAIT)["error_code"] == 0  # type: ignore[index]
        assert engine.bulksync_state == 0 and engine.model("Product").count() == 0
        server.clear_journal()
        assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
        assert len(requests_of(server, "bulk_data")) >= 1
        assert local(engine, "Product") == records(server, "Product", "bob")
    finally:
        engine.close()


def test_search_stops_a_running_sync_first(engine: SyncEngine, gates: Gates) -> None:
    """Rhodes ``rho_sync_doSearch`` calls ``rho_sync_stop`` before queueing the search: the search
    does not wait behind a sync, whose handle reports that it was stopped."""
    login(engine)
    gate = gates.hold("GET", "/application")
    sync = engine.dosync()
    gate.wait_arrived()
    found = engine.search("Product", search_params={"name": "x"}).wait(WAIT)
    assert found is not None and found["status"] == "complete"
    assert sync.done() and sync.stopped


def test_search_sync_changes_pushes_first(engine: SyncEngine, server: MockServer) -> None:
    login(engine)
    temp = engine.model("Product").create({"name": "pushed before search", "brand": "Z"})["object"]
    result = engine.search("Product", search_params={"brand": "Z"}, sync_changes=True).wait(WAIT)
    assert result is not None and result["status"] == "complete"
    ops = [e.operation for e in server.journal() if e.operation in ("cud", "search")]
    assert ops[0] == "cud" and "search" in ops
    assert any(a.get("name") == "pushed before search" for a in records(server, "Product").values())
    assert engine.stores["user"].pending_count() == 1  # the create waits for its link (next sync)
    engine.dosync().wait(WAIT)
    assert engine.model("Product").find(temp) is None and engine.stores["user"].pending_count() == 0


def test_stop_during_push_neither_loses_nor_duplicates(
    engine: SyncEngine, server: MockServer, gates: Gates
) -> None:
    login(engine)
    engine.dosync().wait(WAIT)
    temp = engine.model("Product").create({"name": "Stopped"})["object"]
    gate = gates.hold("POST", "/application")
    handle = engine.dosync()
    gate.wait_arrived()
    engine.stop_sync()
    gate.release()  # the abandoned POST reaches the server after all
    assert handle.wait(WAIT) is not None and handle.stopped
    assert gate.done.wait(WAIT), "the held POST was never answered"
    assert any(a == {"name": "Stopped"} for a in records(server, "Product").values())
    engine.dosync().wait(WAIT)
    assert [a for a in records(server, "Product").values() if a == {"name": "Stopped"}] == [
        {"name": "Stopped"}
    ]
    assert (
        local(engine, "Product") == records(server, "Product") and engine.model("Product").find(temp) is None
    )


def test_close_does_not_wait_for_a_slow_server(server: MockServer, gates: Gates, tmp_path: Path) -> None:
    engine = SyncEngine(server.url, tmp_path / "c.sqlite")
    engine.add_model("Product")
    login(engine)
    gate = gates.hold("GET", "/application/clientcreate")
    engine.dosync()
    gate.wait_arrived()
    started = time.monotonic()
    engine.close()
    assert time.monotonic() - started < 2
    gate.release()
