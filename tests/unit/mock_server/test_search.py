"""Search over HTTP, both families: sub-arrays, one token per search, acknowledgement, errors."""

from __future__ import annotations

from mock_rc import RC
from rhoconnect_mock import MockServer


def test_search_pages_and_acknowledgement(server: MockServer) -> None:
    rc = RC(server)
    rc.login()
    rc.create_client()
    r = rc.http.post(
        rc.base + "/rc/v1/app/search",
        json={
            "client_id": rc.client_id,
            "sources": [{"name": "Product"}],
            "search": {"brand": "Brand 3"},
            "p_size": 2,
            "version": 3,
        },
    )
    assert r.headers["Content-Type"] == "application/json"
    body = r.json()
    token = body[0][1]["token"]
    assert [list(e) for e in body[0]] == [["version"], ["token"], ["source"], ["count"], ["insert"]]
    assert body[0][2] == {"source": "Product"} and body[0][3] == {"count": 2}
    assert (
        r.headers["X-Rhoconnect-PAGE-TOKEN"] == token and r.headers["X-Rhoconnect-PAGE-OBJECT-COUNT"] == "2"
    )
    got = list(body[0][4]["insert"])
    while True:
        nxt = rc.search([{"name": "Product", "token": token}], {"brand": "Brand 3"}, p_size=2)
        if nxt == [[]]:
            break
        assert nxt[0][1] == {"token": token}  # the same token on every page of one search
        got.extend(nxt[0][4]["insert"])
    assert sorted(got, key=int) == ["3", "10", "17", "24"]
    # Results went into the client's document: a query does not send them again.
    page = rc.page(p_size=100)
    assert page[2] == {"count": 21} and not set(page[5]["insert"]) & set(got)


def test_search_skips_objects_the_client_has(rc: RC) -> None:
    rc.sync_all()
    assert rc.search([{"name": "Product"}], {"brand": "Brand 3"}) == [[]]


def test_search_sends_objects_the_client_has_differently(rc: RC, server: MockServer) -> None:
    rc.sync_all()
    server.state.backend_update("Product", "alice", "10", {"price": "1.00"})
    body = rc.search([{"name": "Product"}], {"brand": "Brand 3"})
    assert list(body[0][4]["insert"]) == ["10"] and body[0][4]["insert"]["10"]["price"] == "1.00"


def test_search_sends_changed_attributes_and_the_next_page_deletes_dropped_ones(
    rc: RC, server: MockServer
) -> None:
    # The client upserts search results attribute by attribute, so an attribute the object lost
    # stays on the client until a query page deletes it: the search must not count it as gone.
    local = rc.sync_all()
    old = dict(local["10"])
    server.state.backend_insert(
        "Product", "alice", "10", {**{k: v for k, v in old.items() if k != "price"}, "name": "Renamed"}
    )
    body = rc.search([{"name": "Product"}], {"brand": old["brand"]})
    token = body[0][1]["token"]
    assert body[0][4]["insert"] == {"10": {"name": "Renamed"}}  # only what differs, as RhoConnect
    assert rc.search([{"name": "Product", "token": token}], {"brand": old["brand"]}) == [[]]
    page = rc.page(p_size=100)
    assert page[5] == {"delete": {"10": {"price": old["price"]}}}


def test_classic_search_with_bracket_params(rc: RC) -> None:
    r = rc.http.get(
        rc.base + "/application/search",
        params=[
            ("client_id", rc.client_id),
            ("sources[][name]", "Product"),
            ("sources[][name]", "Broken"),
            ("search[name]", "Product 7"),
            ("p_size", "10"),
            ("version", "3"),
        ],
    )
    assert (
        r.headers["Warning"]
        == "Use of the GET /application/search is deprecated. Use Rhoconnect API v1 instead."
    )
    body = r.json()
    assert len(body) == 2 and body[1] == []
    assert list(body[0][4]["insert"]) == ["7"]
    token = body[0][1]["token"]
    r = rc.http.get(
        rc.base + "/application/search",
        params=[
            ("client_id", rc.client_id),
            ("sources[][name]", "Product"),
            ("sources[][token]", token),
            ("search[name]", "Product 7"),
        ],
    )
    assert r.json() == [[]]


def test_search_errors(rc: RC, server: MockServer) -> None:
    state = server.state
    state.fail_adapter("search", "Broken", "search unavailable")
    expected = [
        [
            {"version": 3},
            {"source": "Broken"},
            {"search-error": {"search-error": {"message": "search unavailable"}}},
        ]
    ]
    for _ in range(2):
        r = rc.http.post(
            rc.base + "/rc/v1/app/search",
            json={"client_id": rc.client_id, "sources": [{"name": "Broken"}], "search": {"name": "Broken 1"}},
        )
        assert r.json() == expected and "X-Rhoconnect-PAGE-TOKEN" not in r.headers
    state.clear_adapter_failures()
    state.fail_adapter("login", "Broken", "login refused", times=1)
    assert rc.search([{"name": "Broken"}], {"name": "Broken 1"}) == [
        [
            {"version": 3},
            {"source": "Broken"},
            {"search-error": {"login-error": {"message": "login refused"}}},
        ]
    ]
    assert rc.search([{"name": "Broken", "token": "999"}], {"name": "Broken 1"}) == [
        [
            {"version": 3},
            {"source": "Broken"},
            {"search-error": {"search-error": {"message": "Search error - invalid token"}}},
        ]
    ]


def test_search_unknown_source_is_empty(rc: RC) -> None:
    assert rc.search([{"name": "Nosuch"}], {"name": "x"}) == [[]]


def test_resend_gives_the_last_page_again(rc: RC) -> None:
    first = rc.search([{"name": "Product"}], {"brand": "Brand 3"}, p_size=2)
    token = first[0][1]["token"]
    r = rc.http.post(
        rc.base + "/rc/v1/app/search",
        json={
            "client_id": rc.client_id,
            "sources": [{"name": "Product", "token": token}],
            "search": {"brand": "Brand 3"},
            "p_size": 2,
            "resend": 1,
        },
    )
    assert r.json() == first
    second = rc.search([{"name": "Product", "token": token}], {"brand": "Brand 3"}, p_size=2)
    assert not set(second[0][4]["insert"]) & set(first[0][4]["insert"])
