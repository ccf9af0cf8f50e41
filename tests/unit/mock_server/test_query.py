"""Query pages over HTTP: layout, tokens, acknowledgement (decision "Paging acknowledgement"), p_size, diffs,
errors, schema."""

from __future__ import annotations

from collections.abc import Callable

from mock_rc import RC, apply_page
from rhoconnect_mock import MockServer

UNKNOWN_SOURCE_ERROR = {"query-error": {"message": "Please set uri in your settings or through console"}}


def test_page_layout_headers_and_numeric_tokens(rc: RC) -> None:
    r = rc.query(p_size=10)
    assert r.headers["Content-Type"] == "application/json"
    page = r.json()
    assert [list(e) for e in page] == [
        ["version"],
        ["token"],
        ["count"],
        ["progress_count"],
        ["total_count"],
        ["insert"],
    ]
    assert page[0] == {"version": 3} and page[2] == {"count": 10} and page[3] == {"progress_count": 0}
    assert page[4] == {"total_count": 25}
    token = page[1]["token"]
    assert token.isdigit() and int(token) > 500_000_000_000_000  # microseconds since 2009
    assert r.headers["X-Rhoconnect-PAGE-TOKEN"] == token
    assert r.headers["X-Rhoconnect-PAGE-OBJECT-COUNT"] == "10"
    assert page[5]["insert"]["7"] == {
        "name": "Product 7",
        "brand": "Brand 0",
        "price": "8.75",
        "quantity": "7",
        "sku": "SKU-000007",
    }
    assert r.content.startswith(b'[{"version":3},{"token":"')  # compact JSON, as RhoConnect writes it


def test_paging_until_empty_token(rc: RC) -> None:
    seen: list[str] = []
    tokens: list[int] = []
    token = None
    while True:
        r = rc.query(token=token, p_size=10)
        page = r.json()
        token = page[1]["token"]
        if token == "":
            assert page == [
                {"version": 3},
                {"token": ""},
                {"count": 0},
                {"progress_count": 0},
                {"total_count": 25},
                {},
            ]
            assert "X-Rhoconnect-PAGE-TOKEN" not in r.headers
            assert r.headers["X-Rhoconnect-PAGE-OBJECT-COUNT"] == "0"
            break
        tokens.append(int(token))
        seen.extend(page[5]["insert"])
    assert [len(seen[i : i + 10]) for i in range(0, 25, 10)] == [10, 10, 5]
    assert sorted(seen, key=int) == [str(i) for i in range(1, 26)]
    assert tokens == sorted(tokens) and len(set(tokens)) == 3


def test_wrong_token_resends_pending_page_unchanged(rc: RC) -> None:
    first = rc.query(p_size=10)
    again = rc.query(token="000000", p_size=10)
    assert again.content == first.content
    assert again.headers["X-Rhoconnect-PAGE-TOKEN"] == first.headers["X-Rhoconnect-PAGE-TOKEN"]
    nxt = rc.page(token=first.json()[1]["token"], p_size=10)
    assert nxt[1]["token"] != first.json()[1]["token"]
    assert not set(nxt[5]["insert"]) & set(first.json()[5]["insert"])


def test_a_resent_page_does_not_run_the_adapter(rc: RC, server: MockServer) -> None:
    first = rc.query("Broken", p_size=1)
    server.state.fail_adapter("query", "Broken", "down", times=1)
    server.state.backend_update("Broken", "alice", "3", {"qty": "30"})
    assert rc.query("Broken", token="000000", p_size=1).content == first.content
    nxt = rc.page("Broken", token=first.json()[1]["token"], p_size=10)
    # The failure was not used up by the re-send: the first new page reports it, the next
    # (adapter working again) brings the change.
    assert nxt[5]["source-error"] == {"query-error": {"message": "down"}}
    last = rc.page("Broken", token=nxt[1]["token"], p_size=10)
    assert "source-error" not in last[5] and last[5]["insert"]["3"] == {"qty": "30"}


def test_no_token_acknowledges_pending_page(rc: RC) -> None:
    first = rc.page(p_size=10)
    second = rc.page(p_size=10)  # RhoConnect 7.8: no token = the pending page was received
    assert not set(second[5]["insert"]) & set(first[5]["insert"])
    assert rc.page(token="", p_size=10)[2] == {"count": 5}


def test_classic_resend_option(mock: Callable[..., MockServer]) -> None:
    server = mock({"classic_resend": True, "sources": {"Product": {"generator": "sequence"}}})
    rc = RC(server)
    rc.login()
    rc.create_client()
    first = rc.query(p_size=10)
    assert rc.query(p_size=10).content == first.content
    assert rc.page(token=first.json()[1]["token"], p_size=10)[1]["token"] != first.json()[1]["token"]


def test_default_page_size_is_500(mock: Callable[..., MockServer]) -> None:
    server = mock({"sources": {"Product": {"records": 501}}})
    rc = RC(server)
    rc.login()
    rc.create_client()
    page = rc.page()
    assert page[2] == {"count": 500} and page[4] == {"total_count": 501}
    assert rc.page(token=page[1]["token"])[2] == {"count": 1}


def test_p_size_zero_changes_nothing(rc: RC) -> None:
    for _ in range(2):
        assert rc.page(p_size=0) == [
            {"version": 3},
            {"token": ""},
            {"count": 0},
            {"progress_count": 0},
            {"total_count": 25},
            {},
        ]
    page = rc.page(p_size=3)
    assert list(page[5]["insert"]) == ["1", "2", "3"]


def test_classic_route_and_missing_source_name(rc: RC) -> None:
    r = rc.query(classic=True, p_size=3)
    assert r.status_code == 200
    assert r.headers["Warning"] == "Use of the GET /application is deprecated. Use Rhoconnect API v1 instead."
    r = rc.http.get(rc.base + "/application", params={"client_id": rc.client_id, "p_size": 10})
    assert (r.status_code, r.text, r.headers["Content-Type"]) == (
        500,
        "Unknown source",
        "text/html;charset=utf-8",
    )
    assert (
        rc.http.get(
            rc.base + "/api/application", params={"client_id": rc.client_id, "source_name": "Product"}
        ).status_code
        == 200
    )


def test_unknown_source_page_on_both_routes(rc: RC, server: MockServer) -> None:
    for classic in (False, True):
        r = rc.query("Nosuch", p_size=10, classic=classic)
        assert r.json() == [
            {"version": 3},
            {"token": ""},
            {"count": 0},
            {"progress_count": 0},
            {"total_count": 0},
            {"source-error": UNKNOWN_SOURCE_ERROR},
        ]
        assert "X-Rhoconnect-PAGE-TOKEN" not in r.headers
    assert "Nosuch" not in server.state.sources  # no side effect on the app's sources


def test_backend_changes_arrive_as_attribute_diffs(rc: RC, server: MockServer) -> None:
    local = rc.sync_all()
    state = server.state
    state.backend_update("Product", "alice", "3", {"price": "9.99"})
    state.backend_delete("Product", "alice", "4")
    state.backend_insert("Product", "alice", "99", {"name": "New"})
    page = rc.page()
    assert page[2] == {"count": 4}  # "3" counts in insert and delete
    assert page[5]["insert"] == {"3": {"price": "9.99"}, "99": {"name": "New"}}
    assert page[5]["delete"] == {
        "3": {"price": "3.75"},
        "4": {"name": "Product 4", "brand": "Brand 4", "price": "5.00", "quantity": "4", "sku": "SKU-000004"},
    }
    rc_apply = dict(local)
    apply_page(rc_apply, page)
    assert rc_apply == dict(state.records("Product", "alice"))


def test_changes_while_paging_reach_the_client(rc: RC, server: MockServer) -> None:
    state = server.state
    local: dict[str, dict[str, str]] = {}
    page = rc.page(p_size=10)
    apply_page(local, page)
    # change objects already sent, not yet sent, and the same object twice across the page boundary
    state.backend_update("Product", "alice", "1", {"name": "One"})
    state.backend_update("Product", "alice", "15", {"name": "Fifteen"})
    state.backend_delete("Product", "alice", "20")
    state.backend_update("Product", "alice", "15", {"brand": "B"})
    token = page[1]["token"]
    while token:
        page = rc.page(token=token, p_size=4)
        apply_page(local, page)
        token = page[1]["token"]
    assert local == dict(state.records("Product", "alice"))


def test_user_partition_is_per_user_and_app_partition_shared(mock: Callable[..., MockServer]) -> None:
    server = mock({"sources": {"Product": {"records": 5}, "Catalog": {"records": 5, "partition": "app"}}})
    a, b = RC(server), RC(server)
    a.login("alice")
    a.create_client()
    b.login("bob")
    b.create_client()
    server.state.backend_update("Product", "alice", "1", {"name": "alice only"})
    server.state.backend_update("Catalog", None, "1", {"name": "everyone"})
    assert a.sync_all("Product")["1"]["name"] == "alice only"
    assert b.sync_all("Product")["1"]["name"] != "alice only"
    assert a.sync_all("Catalog")["1"]["name"] == b.sync_all("Catalog")["1"]["name"] == "everyone"


def test_source_errors_each_query_while_failing(rc: RC, server: MockServer) -> None:
    rc.sync_all("Broken")
    state = server.state
    empty = [{"version": 3}, {"token": ""}, {"count": 0}, {"progress_count": 0}, {"total_count": 3}]
    for stage, message in (
        ("query", "query exploded"),
        ("login", "login refused"),
        ("logoff", "logoff broke"),
    ):
        state.fail_adapter(stage, "Broken", message)
        for _ in range(2):
            assert rc.page("Broken", p_size=10) == [
                *empty,
                {"source-error": {f"{stage}-error": {"message": message}}},
            ]
        assert state.source_errors("Broken", "alice") == {f"{stage}-error": {"message": message}}
        state.clear_adapter_failures()
        assert rc.page("Broken", p_size=10) == [*empty, {}]
        assert state.source_errors("Broken", "alice") == {}


def test_failed_query_keeps_master_and_still_pages(rc: RC, server: MockServer) -> None:
    server.state.fail_adapter("query", "Broken", "down", times=1)
    page = rc.page("Broken", p_size=10)
    assert page[2] == {"count": 3} and page[4] == {"total_count": 3}
    assert page[5]["source-error"] == {"query-error": {"message": "down"}}
    assert page[1]["token"]


def test_failed_query_withholds_backend_changes_until_it_works(rc: RC, server: MockServer) -> None:
    rc.sync_all("Broken")
    state = server.state
    state.fail_adapter("query", "Broken", "down")
    state.backend_update("Broken", "alice", "1", {"qty": "10"})
    state.backend_delete("Broken", "alice", "2")
    page = rc.page("Broken")
    assert page[2:] == [
        {"count": 0},
        {"progress_count": 0},
        {"total_count": 3},
        {"source-error": {"query-error": {"message": "down"}}},
    ]
    state.clear_adapter_failures()
    state.fail_adapter("logoff", "Broken", "logoff broke", times=1)  # after the query: data published
    page = rc.page("Broken")
    assert page[4] == {"total_count": 2}
    assert page[5]["insert"] == {"1": {"qty": "10"}} and set(page[5]["delete"]) == {"1", "2"}
    assert page[5]["source-error"] == {"logoff-error": {"message": "logoff broke"}}


def test_a_failing_adapter_still_pages_the_objects_as_they_were(rc: RC, server: MockServer) -> None:
    # RhoConnect keeps its master document while the adapter fails: a new client gets every
    # object as it was, not a page with the objects changed in the meantime left out.
    state = server.state
    state.fail_adapter("query", "Broken", "down")
    state.backend_update("Broken", "alice", "3", {"qty": "30"})
    page = rc.page("Broken", p_size=10)
    assert page[2] == {"count": 3}
    assert page[5]["insert"]["3"] == {"name": "Broken 3", "qty": "3"}
    state.clear_adapter_failures()
    nxt = rc.page("Broken", token=page[1]["token"], p_size=10)
    assert (nxt[5]["insert"], nxt[5]["delete"]) == ({"3": {"qty": "30"}}, {"3": {"qty": "3"}})


def test_fixed_schema_metadata_and_schema_changed(rc: RC, server: MockServer) -> None:
    page = rc.page("Fixed", p_size=3)
    assert page[2] == {"count": 3}
    assert list(page[5]) == ["insert", "metadata"]
    assert page[5]["metadata"] == '{"title":"Fixed items","schema_version":"1.0"}'
    page = rc.page("Fixed", token=page[1]["token"], p_size=3)
    assert page[2] == {"count": 1} and "metadata" not in page[5]
    assert rc.page("Fixed", token=page[1]["token"])[5] == {}
    server.state.bump_schema_version("Fixed")
    changed = rc.query("Fixed", p_size=10)
    body = changed.json()
    assert body[2:] == [{"count": 0}, {"progress_count": 0}, {"total_count": 0}, {"schema-changed": "true"}]
    assert body[1]["token"] and changed.headers["X-Rhoconnect-PAGE-TOKEN"] == body[1]["token"]
    assert rc.query("Fixed", token="1", p_size=10).content == changed.content
    after = rc.page("Fixed", token=body[1]["token"], p_size=10)
    assert after == [
        {"version": 3},
        {"token": ""},
        {"count": 0},
        {"progress_count": 0},
        {"total_count": 4},
        {"metadata": '{"title":"Fixed items","schema_version":"2.0"}'},
    ]
    assert rc.page("Fixed", p_size=10)[5] == {}
