"""Steps about notifications: setting and clearing callbacks, and what each callback heard.

Callbacks are ``Recorder`` objects (plain callables) registered with ``set_notification``,
``set_objectnotify_url`` or ``search``; a "web callback" is an ``http://`` URL served by a small
local HTTP server, to check the form-encoded delivery.
"""

from __future__ import annotations

import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pytest_bdd import given, parsers, then, when
from world import Recorder, World, mismatches, table_pairs, table_rows

# ---------------------------------------------------------------------------- setting callbacks


@given(parsers.parse('a callback "{name}" is set for the "{model}" notifications'))
def callback_for_model(world: World, name: str, model: str) -> None:
    recorder = world.callbacks[name] = Recorder(name)
    world.model_callback[model] = recorder
    world.app().set_notification(world.source_id(model), recorder, "")


@given(parsers.parse('a callback "{name}" is set for the "{model}" notifications with parameters "{params}"'))
def callback_with_params(world: World, name: str, model: str, params: str) -> None:
    recorder = world.callbacks[name] = Recorder(name)
    world.model_callback[model] = recorder
    world.app().set_notification(world.source_id(model), recorder, params)


@given(parsers.parse('a callback "{name}" is set for all sources'))
def callback_for_all(world: World, name: str) -> None:
    recorder = world.callbacks[name] = Recorder(name)
    world.app().set_notification(-1, recorder, "")


@when(parsers.parse('the app clears the notification for "{model}"'))
def clear_model(world: World, model: str) -> None:
    world.app().clear_notification(world.source_id(model))


@when("the app clears the notification for all sources")
def clear_all(world: World) -> None:
    world.app().clear_notification(-1)


# ------------------------------------------------------------------------ what callbacks heard


def recorder_for(world: World, name: str) -> Recorder:
    if name == "the search":
        assert world.search_callback is not None, "no search was started"
        return world.search_callback
    return world.callback(name)


def assert_one_matches(world: World, recorder: Recorder, status: str, expected: dict[str, str]) -> None:
    candidates = recorder.with_status(status)
    assert candidates, f"callback {recorder.name!r} got no {status!r} notification; it got {recorder.calls}"
    reasons = [mismatches(world, c, expected) for c in candidates]
    assert any(not r for r in reasons), (
        f"no {status!r} notification of {recorder.name!r} matches: {reasons}; got {candidates}"
    )


@then(parsers.re(r'callback "(?P<name>[^"]+)" got an? "(?P<status>[^"]+)" notification with:'))
def got_notification_with(world: World, name: str, status: str, datatable: list[list[str]]) -> None:
    assert_one_matches(world, world.callback(name), status, table_pairs(datatable))


@then(parsers.re(r'the search callback got an? "(?P<status>[^"]+)" notification with:'))
def search_got_with(world: World, status: str, datatable: list[list[str]]) -> None:
    assert_one_matches(world, recorder_for(world, "the search"), status, table_pairs(datatable))


@then(parsers.parse('callback "{name}" got these "{status}" notifications:'))
def got_exactly_these(world: World, name: str, status: str, datatable: list[list[str]]) -> None:
    got = world.callback(name).with_status(status)
    rows = table_rows(datatable)
    assert len(got) == len(rows), f"expected {len(rows)} {status!r} notifications, got {got}"
    for i, (params, row) in enumerate(zip(got, rows, strict=True)):
        assert mismatches(world, params, row) == [], f"notification {i + 1}: {params}"


@then(parsers.parse('callback "{name}" got these "{status}" notifications in order:'))
def got_these_in_order(world: World, name: str, status: str, datatable: list[list[str]]) -> None:
    got = world.callback(name).with_status(status)
    rows = table_rows(datatable)
    position = 0
    for row in rows:
        while position < len(got) and mismatches(world, got[position], row):
            position += 1
        assert position < len(got), f"no {status!r} notification like {row} in order in {got}"
        position += 1


@then(
    parsers.re(
        r'callback "(?P<name>[^"]+)" got (?:exactly )?(?P<count>\d+) "(?P<status>[^"]+)" notifications?'
    )
)
def got_count(world: World, name: str, count: str, status: str) -> None:
    got = world.callback(name).with_status(status)
    assert len(got) == int(count), f"expected {count} {status!r} notifications, got {got}"


@then(parsers.parse('callback "{name}" got no "{status}" notification'))
def got_none(world: World, name: str, status: str) -> None:
    assert world.callback(name).with_status(status) == []


@then(parsers.parse('callback "{name}" received no notification'))
def received_nothing(world: World, name: str) -> None:
    assert world.callback(name).calls == []


@then(parsers.parse('callback "{name}" received the statuses "{statuses}"'))
def received_statuses(world: World, name: str, statuses: str) -> None:
    got = [c.get("status") for c in world.callback(name).calls]
    assert got == [s.strip() for s in statuses.split(",")]


@then(parsers.parse('callback "{name}" gets a "{status}" notification within {seconds:d} seconds'))
def gets_within(world: World, name: str, status: str, seconds: int) -> None:
    recorder = world.callback(name)
    assert recorder.wait_for(lambda calls: any(c.get("status") == status for c in calls), seconds), (
        f"no {status!r} notification within {seconds} s: {recorder.calls}"
    )
    world.app().wait_idle(30)


@then(parsers.parse('the search callback got at least {count:d} "{status}" notifications'))
def search_at_least(world: World, count: int, status: str) -> None:
    got = recorder_for(world, "the search").with_status(status)
    assert len(got) >= count, got


@then(
    parsers.parse(
        'the "{status}" notifications of callback "{name}" count the server\'s "{model}" records'
        " in pages of {size:d}"
    )
)
def counts_follow_server(world: World, status: str, name: str, model: str, size: int) -> None:
    received = len(world.target.records(model))  # what a new client of this user receives
    expected, done = [], 0
    while done < received:
        page = min(size, received - done)
        done += page
        expected.append({"processed_count": page, "cumulative_count": done})
    got = world.callback(name).with_status(status)
    assert [{k: c.get(k) for k in ("processed_count", "cumulative_count")} for c in got] == expected
    # total_count is the server's own counter (RhoConnect's md_size): other clients' creates and
    # deletes move it away from the number of records a client receives, so only its form is
    # checked here; the scenarios that seed the mock check its value.
    totals = [c.get("total_count") for c in got]
    assert all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in totals), totals


# ------------------------------------------------------------------------------ web callbacks


class _Hook(BaseHTTPRequestHandler):
    posts: list[dict[str, str]]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        self.posts.append(dict(urllib.parse.parse_qsl(body, keep_blank_values=True)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test output is not the place for an access log."""


@given(parsers.parse('a web callback "{name}" is set for the "{model}" notifications'))
def web_callback(world: World, name: str, model: str) -> None:
    posts: list[dict[str, str]] = []
    handler = type("Hook", (_Hook,), {"posts": posts})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    world.closers.append(server.shutdown)
    world.closers.append(server.server_close)
    world.web_hooks[name] = posts
    world.app().set_notification(world.source_id(model), f"http://127.0.0.1:{server.server_port}/hook", "")


@then(parsers.parse('web callback "{name}" received a form post with:'))
def web_callback_got(world: World, name: str, datatable: list[list[str]]) -> None:
    posts = world.web_hooks[name]
    expected = table_pairs(datatable)
    assert any(all(p.get(k) == v for k, v in expected.items()) for p in posts), posts


# -------------------------------------------------------------------------- object notifications


@given(parsers.parse('an object callback "{name}" is set'))
def object_callback(world: World, name: str) -> None:
    recorder = world.object_callback[name] = Recorder(name)
    world.app().set_objectnotify_url(recorder)


@given(parsers.parse('the app watches "{model}" "{first}" and "{model2}" "{second}"'))
def watch_two(world: World, model: str, first: str, model2: str, second: str) -> None:
    world.app().add_objectnotify(world.source_id(model), first)
    world.app().add_objectnotify(world.source_id(model2), second)


@given(parsers.parse('the app watches the new "{model}"'))
def watch_new(world: World, model: str) -> None:
    world.app().add_objectnotify(world.source_id(model), world.created[model])


def heard(world: World, name: str, kind: str, model: str, oid: str) -> None:
    recorder = world.object_callback[name]
    source_id = world.source_id(model)
    entries = [e for call in recorder.calls for e in call.get(kind, [])]
    assert any(str(e.get("object")) == oid and int(e.get("source_id")) == source_id for e in entries), (
        f"{kind} {oid} of source {source_id} not in {recorder.calls}"
    )


@then(parsers.parse('object callback "{name}" heard that "{model}" "{oid}" was {what}'))
def heard_that(world: World, name: str, model: str, oid: str, what: str) -> None:
    heard(world, name, what, model, oid)


@then(parsers.parse('object callback "{name}" heard that the new "{model}" was created'))
def heard_created(world: World, name: str, model: str) -> None:
    heard(world, name, "created", model, world.created[model])
