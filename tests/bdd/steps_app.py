"""Steps about the app: its engine and models, signing in, syncing, and the local data.

Each step is one or two calls of the public client API (``SyncEngine``, ``engine.model(name)``,
the handles ``login``/``dosync``/``dosync_source`` return).
"""

from __future__ import annotations

from typing import Any

import pytest
from pytest_bdd import given, parsers, then, when
from rhoconnect_client import InvalidAction, SyncEngine
from targets import UnknownSource, describe
from world import WAIT, Recorder, World, table_pairs

# ------------------------------------------------------------------------------------- the app


def make_engine(world: World, url: str | None = None, **options: Any) -> SyncEngine:
    """One engine per scenario, on a file database in the scenario's temp folder, no polling."""
    if world.engine is None:
        world.popups = []
        world.engine = SyncEngine(
            url or world.server_url,
            database=str(world.tmp_path / "app.sqlite"),
            poll_interval=0,
            timeout=10,
            bulk_wait_seconds=0.05,
            status_reporter=world.popups.append,
            **options,
        )
    return world.engine


def add_models(world: World, names: str, **options: Any) -> None:
    engine = make_engine(world)
    for name in (n.strip() for n in names.split(",")):
        if not world.target.may_request(name):
            pytest.skip(str(UnknownSource(name)))
        engine.add_model(name, sync_priority=len(world.models) + 1, **options)
        world.models.append(name)


@given(parsers.parse('a client app with the model "{name}"'))
@given(parsers.parse('a client app with the models "{names}"'))
def client_app(world: World, name: str = "", names: str = "") -> None:
    add_models(world, name or names)


@given(parsers.parse('a client app with the bulk model "{name}"'))
def client_app_bulk(world: World, name: str) -> None:
    make_engine(world, bulksync_state=0)
    add_models(world, name, sync_type="bulk_sync_only")


@given(parsers.parse('a client app with the model "{name}" speaking the {family} routes'))
def client_app_family(world: World, name: str, family: str) -> None:
    assert family in ("classic", "rest"), family
    # The classic family's syncserver is the application URL, the REST family's the server root.
    url = world.target.base_url if family == "rest" else world.server_url
    make_engine(world, url=url, url_family=family)
    add_models(world, name)


@given(parsers.parse('a client app with the model "{name}" using that server'))
def client_app_tls(world: World, name: str) -> None:
    make_engine(world, url=world.server_url)
    add_models(world, name)


# ----------------------------------------------------------------------------------- signing in


def do_login(world: World, login: str, password: str, with_callback: bool = True) -> None:
    recorder = Recorder("login")
    handle = world.app().login(login, password, recorder if with_callback else None)
    result = handle.wait(WAIT)
    assert handle.done(), "the login did not finish"
    if with_callback:
        assert recorder.calls, "the login callback was not called"
        world.login_result = recorder.calls[-1]
    else:
        world.login_result = result


@given("the user is logged in")
def logged_in_user(world: World) -> None:
    do_login(world, world.target.login, world.target.password)
    assert world.login_result is not None and world.login_result["error_code"] == 0, world.login_result


@given("the user logs in with valid credentials")
@when("the user logs in with valid credentials")
def login_valid(world: World) -> None:
    do_login(world, world.target.login, world.target.password)


@when("the user logs in with valid credentials and no callback")
def login_no_callback(world: World) -> None:
    do_login(world, world.target.login, world.target.password, with_callback=False)


@given(parsers.parse('the user logs in as "{login}" with password "{password}"'))
@when(parsers.parse('the user logs in as "{login}" with password "{password}"'))
def login_as(world: World, login: str, password: str) -> None:
    do_login(world, login, password)


@given('the user logs in as "" with password "anything"')
@when('the user logs in as "" with password "anything"')
def login_empty(world: World) -> None:
    do_login(world, "", "anything")


@given("the user logs out")
@when("the user logs out")
def logout(world: World) -> None:
    world.app().logout()


@given("the app is not logged in")
@then("the app is not logged in")
def not_logged_in(world: World) -> None:
    assert world.app().logged_in() is False


@then("the app is logged in")
def is_logged_in(world: World) -> None:
    assert world.app().logged_in() is True


@then("the login callback reports:")
def login_reports(world: World, datatable: list[list[str]]) -> None:
    from world import mismatches

    assert world.login_result is not None, "no login happened"
    assert mismatches(world, world.login_result, table_pairs(datatable)) == [], world.login_result


@then(parsers.parse('the user name is "{name}"'))
def user_name(world: World, name: str) -> None:
    assert world.app().get_user_name() == name


# -------------------------------------------------------------------------------------- syncing


def finish(world: World, handle: Any) -> dict[str, Any] | None:
    world.handle = handle
    world.result = handle.wait(WAIT)
    assert handle.done(), "the sync did not finish"
    return world.result


@given("the app has synced everything")
def synced_everything(world: World) -> None:
    finish(world, world.app().dosync(False, ""))


@when("the app syncs everything")
def sync_everything(world: World) -> None:
    finish(world, world.app().dosync(False, ""))


@when(parsers.parse("the app syncs everything {how} the status popup"))
def sync_with_popup(world: World, how: str) -> None:
    assert how in ("with", "without"), how
    finish(world, world.app().dosync(how == "with", ""))


@when(parsers.parse('the app syncs everything with query parameters "{query}"'))
def sync_with_query(world: World, query: str) -> None:
    finish(world, world.app().dosync(False, query))


@when(parsers.parse('the app syncs the "{name}" model by its {reference}'))
def sync_source(world: World, name: str, reference: str) -> None:
    assert reference in ("name", "source id"), reference
    key: str | int = name
    if reference == "source id":
        key = world.source_id(name)
    finish(world, world.app().dosync_source(key, False, ""))


@when(
    parsers.parse('the app syncs the "{name}" model with query parameters "{query}" without the status popup')
)
def sync_source_query(world: World, name: str, query: str) -> None:
    finish(world, world.app().dosync_source(name, False, query))


@when("the app starts syncing everything")
def start_sync(world: World) -> None:
    world.handle = world.app().dosync(False, "")


@then("the sync finishes")
def sync_finishes(world: World) -> None:
    assert world.handle is not None
    world.result = world.handle.wait(WAIT)
    assert world.handle.done()


# ------------------------------------------------------------------------------ local data


def local_records(world: World, model: str) -> dict[str, dict[str, str]]:
    result = {}
    for obj in world.app().model(model).find_all():
        attrs = {k: str(v) for k, v in obj.items() if k != "object" and v is not None}
        result[str(obj["object"])] = attrs
    return result


@given(parsers.parse('the app creates a "{model}" with name "{name}" and brand "{brand}"'))
@when(parsers.parse('the app creates a "{model}" with name "{name}" and brand "{brand}"'))
def create_local(world: World, model: str, name: str, brand: str) -> None:
    created = world.app().model(model).create({"name": name, "brand": brand})
    world.created[model] = str(created["object"])


@given(parsers.parse('the app changes the "{attr}" of "{model}" "{oid}" to "{value}"'))
@when(parsers.parse('the app changes the "{attr}" of "{model}" "{oid}" to "{value}"'))
def update_local(world: World, attr: str, model: str, oid: str, value: str) -> None:
    world.app().model(model).update(oid, {attr: value})


@given(parsers.parse('the app deletes "{model}" "{oid}"'))
@when(parsers.parse('the app deletes "{model}" "{oid}"'))
def delete_local(world: World, model: str, oid: str) -> None:
    world.app().model(model).destroy(oid)


@then(parsers.parse('the local "{model}" records are exactly the server\'s'))
def local_equals_server(world: World, model: str) -> None:
    server = world.target.records(model)
    local = local_records(world, model)
    assert local == server, f"local {describe(local)}\nserver {describe(server)}"


@then(parsers.parse('the local "{model}" store is empty'))
def local_empty(world: World, model: str) -> None:
    assert world.app().model(model).count() == 0


@then(parsers.parse('the local "{model}" store holds {count:d} records'))
def local_count(world: World, model: str, count: int) -> None:
    assert world.app().model(model).count() == count


@then(parsers.parse('the local "{model}" "{oid}" has "{attr}" "{value}"'))
def local_value(world: World, model: str, oid: str, attr: str, value: str) -> None:
    obj = world.app().model(model).find(oid)
    assert obj is not None, f"no local {model} {oid}"
    assert str(obj.get(attr)) == value, obj


@then(parsers.parse('the local "{model}" records include one named "{name}"'))
def local_has_name(world: World, model: str, name: str) -> None:
    names = [r.get("name") for r in local_records(world, model).values()]
    assert names.count(name) == 1, names


@then(parsers.parse('the local "{model}" records include none named "{name}"'))
def local_has_no_name(world: World, model: str, name: str) -> None:
    names = [r.get("name") for r in local_records(world, model).values()]
    assert name not in names, names


def pending(world: World, model: str) -> int:
    """Local changes of a model not yet confirmed by the server (its store's outbox)."""
    local = world.app().model(model)
    return int(local.store.pending_count(local.source.source_id))


@then(parsers.parse('the app has no pending changes for "{model}"'))
def no_pending(world: World, model: str) -> None:
    assert pending(world, model) == 0


@then(parsers.parse('the app has pending changes for "{model}"'))
def has_pending(world: World, model: str) -> None:
    assert pending(world, model) > 0


# ------------------------------------------------------------------------------- page size


@given(parsers.parse("the app sets the page size to {size:d}"))
@when(parsers.parse("the app sets the page size to {size:d}"))
def set_pagesize(world: World, size: int) -> None:
    world.app().set_pagesize(size)


@then(parsers.parse("the page size is {size:d}"))
def get_pagesize(world: World, size: int) -> None:
    assert world.app().get_pagesize() == size


# ------------------------------------------------------------------------------ sync control


@when("the app takes the sync lock")
def lock(world: World) -> None:
    world.app().lock_sync_mutex()
    world.locked = True
    world.closers.append(lambda: _unlock_quietly(world))


def _unlock_quietly(world: World) -> None:
    if world.locked:
        world.locked = False
        world.app().unlock_sync_mutex()


@when("the app releases the sync lock")
def unlock(world: World) -> None:
    world.locked = False
    world.app().unlock_sync_mutex()


@then("the sync has not finished while the lock is held")
def not_finished_while_locked(world: World) -> None:
    # The sync thread cannot store a page while the app holds the lock, so after a generous
    # moment it must still be running; this can only fail if the lock does not hold it back.
    assert world.handle is not None
    world.handle.wait(1.0)
    assert not world.handle.done(), "the sync finished although the app held the sync lock"


@given(parsers.parse('the app stops syncing as soon as the first "{model}" page arrives'))
def stop_on_first_page(world: World, model: str) -> None:
    world.stop_on_page[model] = True
    engine = world.app()
    recorder = world.model_callback[model]

    def react(params: dict[str, Any]) -> None:
        if world.stop_on_page.get(model) and params.get("status") == "in_progress":
            engine.stop_sync()

    recorder.reaction = react


@when("the app no longer stops syncing")
def stop_no_more(world: World) -> None:
    world.stop_on_page.clear()


@when("the app stops syncing")
def stop_now(world: World) -> None:
    world.app().stop_sync()


@then("the sync reports that it was stopped")
def reports_stopped(world: World) -> None:
    assert world.handle is not None and world.handle.stopped is True, world.handle


@when(parsers.parse("the app sets the poll interval to {seconds:d} second"))
@when(parsers.parse("the app sets the poll interval to {seconds:d} seconds"))
def set_poll(world: World, seconds: int) -> None:
    world.poll_previous.append(world.app().set_pollinterval(seconds))


@then(parsers.parse("the previous poll interval was {seconds:d} seconds"))
def previous_poll(world: World, seconds: int) -> None:
    assert world.poll_previous[-1] == seconds, world.poll_previous


@when(parsers.parse('the app points the engine at "{url}"'))
def set_server(world: World, url: str) -> None:
    world.app().set_syncserver(url)


@when("the app points the engine at the server under test")
def set_server_back(world: World) -> None:
    world.app().set_syncserver(world.server_url)


@given(parsers.parse("the status popup is {state}"))
def popup_state(world: World, state: str) -> None:
    assert state in ("enabled", "disabled"), state
    world.app().enable_status_popup(state == "enabled")


@then(parsers.parse("the status popup was {shown}"))
def popup_shown(world: World, shown: str) -> None:
    assert shown in ("shown", "not shown"), shown
    if shown == "shown":
        assert world.popups, "the status reporter received nothing"
        assert world.popups[-1].get("status") == "complete", world.popups[-1]
    else:
        assert world.popups == []


@when("the app stops checking TLS certificates")
def ssl_off(world: World) -> None:
    world.app().set_ssl_verify_peer(False)


@when("the app checks TLS certificates again")
def ssl_on(world: World) -> None:
    world.app().set_ssl_verify_peer(True)


# -------------------------------------------------------------------------------- recovery


@when(parsers.parse('the app answers the {kind} error of "{model}" with "{action}"'))
def answer_error(world: World, kind: str, model: str, action: str) -> None:
    engine = world.app()
    errors = last_server_errors(world, f"{kind}-error")
    if action in ("delete", "recreate", "retry", "rollback"):
        assert errors, f"the server reported no {kind}-error to answer"
    try:
        if kind == "create":
            engine.on_sync_create_error(model, errors, f":{action}")
        elif kind == "update":
            rollback = last_server_errors(world, "update-rollback") if action == "rollback" else None
            engine.on_sync_update_error(model, errors, f":{action}", rollback)
        elif kind == "delete":
            engine.on_sync_delete_error(model, errors, f":{action}")
        else:
            pytest.fail(f"unknown error kind {kind}")
    except Exception as exc:
        world.error = exc


def last_server_errors(world: World, kind: str) -> dict[str, Any]:
    """The ``server_errors[kind]`` of the latest error notification (empty if there was none)."""
    for recorder in world.callbacks.values():
        for call in reversed(recorder.with_status("error")):
            errors = call.get("server_errors") or {}
            if kind in errors:
                return dict(errors[kind])
    return {}


@then(parsers.parse('the app is told that "{action}" is not a valid action'))
def invalid_action(world: World, action: str) -> None:
    assert isinstance(world.error, InvalidAction), repr(world.error)
    assert action in str(world.error)


@then(parsers.parse('the local "{model}" records include a record named "{name}"'))
def local_has_some_name(world: World, model: str, name: str) -> None:
    # "at least one": on a shared real server earlier runs may have left records of that name.
    names = [r.get("name") for r in local_records(world, model).values()]
    assert name in names, names
