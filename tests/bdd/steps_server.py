"""Steps about the server: what it holds, steering it (mock only) and what it received.

Steering goes through the mock's admin API (``targets.MockTarget``: records, backend changes,
fault rules, schema version, request journal), so it works on the embedded mock and on one
started separately. Reading what the server holds works on any server (``Target.records``).
"""

from __future__ import annotations

import socket
import urllib.parse
from pathlib import Path
from typing import Any

from pytest_bdd import given, parsers, then, when
from targets import Records, Target
from tls_proxy import TlsProxy
from world import World

BRANDS = ("Acme", "Globex", "Initech", "Umbrella")


def records_for(source: str, count: int, brand: str | None = None) -> Records:
    """Deterministic records with ids "1".."count" (brands rotate unless one is given)."""
    return {
        str(i): {
            "name": f"{source} {i}",
            "brand": brand or BRANDS[i % len(BRANDS)],
            "price": f"{i}.{i % 100:02d}",
            "quantity": str(i * 3),
            "sku": f"SKU-{i:05d}",
        }
        for i in range(1, count + 1)
    }


# ------------------------------------------------------------------------------- seeding (mock)


@given(parsers.parse('the server has {count:d} "{source}" records for the user'))
def server_has(world: World, count: int, source: str) -> None:
    world.target.mock().set_records(source, records_for(source, count))


@given(parsers.parse('the server has {count:d} "{source}" records with brand "{brand}" for the user'))
def server_has_brand(world: World, count: int, source: str, brand: str) -> None:
    world.target.mock().set_records(source, records_for(source, count, brand))


@when(parsers.parse('the server\'s backend changes "{source}" "{oid}" to name "{name}"'))
def backend_rename(world: World, source: str, oid: str, name: str) -> None:
    world.target.mock().backend_change(source, {"update": {oid: {"name": name}}})


@given(parsers.parse('the server\'s backend sets the "{attr}" of "{source}" "{oid}" to "{value}"'))
def backend_set(world: World, attr: str, source: str, oid: str, value: str) -> None:
    world.target.mock().backend_change(source, {"update": {oid: {attr: value}}})


@when(parsers.parse('the server\'s backend deletes "{source}" "{oid}"'))
def backend_delete(world: World, source: str, oid: str) -> None:
    world.target.mock().backend_change(source, {"delete": [oid]})


@when(parsers.parse('the server\'s backend adds a "{source}" "{oid}" named "{name}"'))
def backend_insert(world: World, source: str, oid: str, name: str) -> None:
    world.target.mock().backend_change(source, {"insert": {oid: {"name": name, "brand": "Acme"}}})


@when(parsers.parse('the server changes the schema of "{source}"'))
def schema_change(world: World, source: str) -> None:
    world.target.mock().bump_schema(source)


# ---------------------------------------------------------------------------------- faults (mock)

#: The protocol request on which each adapter stage runs.
STAGE_OPERATION = {
    "login": "query",
    "query": "query",
    "logoff": "query",
    "create": "cud",
    "update": "cud",
    "delete": "cud",
    "search": "search",
}


@given(
    parsers.re(
        r'the server\'s "(?P<source>[^"]+)" adapter fails (?P<once>once )?to (?P<stage>\w+) '
        r'with "(?P<message>[^"]*)"'
    )
)
def adapter_fails(world: World, source: str, once: str | None, stage: str, message: str) -> None:
    world.target.mock().add_fault(
        {
            "match": {"operation": STAGE_OPERATION[stage], "source": source},
            "times": 1 if once else None,
            "action": {"type": "adapter_error", "stage": stage, "message": message},
        }
    )


@given(
    parsers.parse('the server answers the next "{source}" {request} with status {status:d} and body "{body}"')
)
def answer_with_status(world: World, source: str, request: str, status: int, body: str) -> None:
    operation = {"query": "query", "push": "cud"}[request]
    world.target.mock().add_fault(
        {
            "match": {"operation": operation, "source": source},
            "times": 1,
            "action": {"type": "status", "status": status, "body": body},
        }
    )
    world.journal_mark = len(world.target.mock().journal())


@given("the server is unreachable")
def unreachable(world: World) -> None:
    # A port that was free a moment ago: connecting to it is refused.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    world.app().set_syncserver(f"http://127.0.0.1:{port}/application")


@given("the server's request log is empty")
def journal_empty(world: World) -> None:
    world.target.mock().clear_journal()


# ------------------------------------------------------------------------------ what it received


@then("the server received no request")
def no_request(world: World) -> None:
    assert world.target.mock().journal() == []


def _unquoted(entry: dict[str, Any]) -> str:
    return urllib.parse.unquote_plus(entry.get("query_string") or "")


@then(parsers.parse('every "{source}" query the server received carried "{text}"'))
def queries_carried(world: World, source: str, text: str) -> None:
    queries = world.target.mock().journal(operation="query", source=source)
    assert queries, "the server received no query"
    assert all(text in _unquoted(q).split("&") for q in queries), [_unquoted(q) for q in queries]


@then(parsers.parse('every "{source}" query the server received asked for pages of {size:d}'))
def queries_page_size(world: World, source: str, size: int) -> None:
    queries = world.target.mock().journal(operation="query", source=source)
    assert queries, "the server received no query"
    assert all(f"p_size={size}" in _unquoted(q).split("&") for q in queries), [_unquoted(q) for q in queries]


@then(parsers.parse('the server received a search on "{path}" carrying "{text}"'))
def search_carried(world: World, path: str, text: str) -> None:
    searches = world.target.mock().journal(operation="search")
    assert any(s["path"].endswith(path) and text in _unquoted(s).split("&") for s in searches), [
        (s["path"], _unquoted(s)) for s in searches
    ]


@then("the server received no login after the failure")
def no_relogin(world: World) -> None:
    later = world.target.mock().journal()[world.journal_mark :]
    assert later, "the failing request was not recorded"
    assert [e for e in later if e["operation"] == "login"] == []


# --------------------------------------------------------------------------------- what it holds


def names(target: Target, source: str) -> list[str]:
    return [r.get("name", "") for r in target.records(source).values()]


@then(parsers.parse('the server\'s "{source}" records for the user include one named "{name}"'))
def server_has_name(world: World, source: str, name: str) -> None:
    assert names(world.target, source).count(name) == 1, names(world.target, source)


@then(parsers.parse('the server\'s "{source}" records for the user include none named "{name}"'))
def server_lacks_name(world: World, source: str, name: str) -> None:
    assert name not in names(world.target, source)


@then(parsers.parse('the server\'s "{source}" "{oid}" has "{attr}" "{value}"'))
def server_value(world: World, source: str, oid: str, attr: str, value: str) -> None:
    records = world.target.records(source)
    assert oid in records, f"the server has no {source} {oid}"
    assert records[oid].get(attr) == value, records[oid]


@then(parsers.parse('the server has no "{source}" "{oid}" for the user'))
def server_lacks(world: World, source: str, oid: str) -> None:
    assert oid not in world.target.records(source)


# ------------------------------------------------------------------------------------ TLS (mock)


@given("a server reachable over TLS with a self-signed certificate")
def tls_server(world: World, self_signed_cert: tuple[Path, Path]) -> None:
    mock = world.target.mock()
    parts = urllib.parse.urlsplit(mock.base_url)
    cert, key = self_signed_cert
    proxy = TlsProxy((parts.hostname or "127.0.0.1", parts.port or 80), cert, key)
    world.closers.append(proxy.close)
    world.server_url = f"https://127.0.0.1:{proxy.port}{urllib.parse.urlsplit(mock.url).path}"


@given(parsers.parse('the network drops the connection of the next "{source}" {request}'))
def connection_reset(world: World, source: str, request: str) -> None:
    operation = {"query": "query", "push": "cud"}[request]
    world.target.mock().add_fault(
        {
            "match": {"operation": operation, "source": source},
            "times": 1,
            "action": {"type": "reset", "at": "before_headers"},
        }
    )


@given(parsers.parse('the server answers the next "{source}" query in protocol version {version:d}'))
def wrong_version(world: World, source: str, version: int) -> None:
    world.target.mock().add_fault(
        {
            "match": {"operation": "query", "source": source},
            "times": 1,
            "action": {"type": "wrong_version", "version": version},
        }
    )


@given(
    parsers.re(
        r'the server answers the next "(?P<source>[^"]+)" query with (?P<answer>an empty array|broken JSON)'
    )
)
def unreadable_answer(world: World, source: str, answer: str) -> None:
    action = {"an empty array": {"type": "empty_array"}, "broken JSON": {"type": "malformed_json"}}[answer]
    world.target.mock().add_fault(
        {"match": {"operation": "query", "source": source}, "times": 1, "action": action}
    )


@given("the server answers the next bulk data request with an empty file address")
def bulk_empty_url(world: World) -> None:
    world.target.mock().add_fault(
        {"match": {"operation": "bulk_data"}, "times": 1, "action": {"type": "bulk", "result": "empty_url"}}
    )


@given(
    parsers.parse(
        'the server\'s backend renames "{source}" "{oid}" to "{name}" after the first "{page}" page'
    )
)
def rename_while_paging(world: World, source: str, oid: str, name: str, page: str) -> None:
    world.target.mock().add_fault(
        {
            "match": {"operation": "query", "source": page},
            "when": {"nth": 1},
            "times": 1,
            "action": {
                "type": "backend_change",
                "source": source,
                "user": world.target.login,
                "update": {oid: {"name": name}},
            },
        }
    )


@given(parsers.parse('the server forgets the session after the first "{source}" page'))
def session_expires(world: World, source: str) -> None:
    world.target.mock().add_fault(
        {
            "match": {"operation": "query", "source": source},
            "when": {"after": 1},
            "times": 1,
            "action": {"type": "expire_session", "after": 0},
        }
    )
