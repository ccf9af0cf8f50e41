"""Create / update / delete over HTTP: empty 200s, links, per-object errors, queue, blobs."""

from __future__ import annotations

import json
from typing import Any

from mock_rc import RC, apply_page
from rhoconnect_mock import MockServer

HTML = "text/html;charset=utf-8"
EMPTY4 = [{"version": 3}, {"token": ""}, {"count": 0}, {"progress_count": 0}, {"total_count": 4}]


def _synced(rc: RC, source: str = "Product") -> dict[str, dict[str, str]]:
    return rc.sync_all(source)


def test_push_create_update_delete_and_links(rc: RC, server: MockServer) -> None:
    local = _synced(rc)
    local["temp-1"] = {"name": "Created widget", "price": "1.00"}
    local["3"]["price"] = "99.99"
    del local["4"]
    r = rc.push(
        create={"temp-1": {"name": "Created widget", "price": "1.00"}},
        update={"3": {"price": "99.99"}},
        delete={"4": {"name": "Product 4"}},
    )
    assert (r.status_code, r.content, r.headers["Content-Type"]) == (200, b"", HTML)
    q = rc.query(p_size=10)
    page = q.json()
    new_id = page[5]["links"]["temp-1"]["l"]
    assert isinstance(new_id, str) and new_id not in {str(i) for i in range(1, 26)}
    assert page[:5] == [
        {"version": 3},
        {"token": page[1]["token"]},
        {"count": 0},
        {"progress_count": 0},
        {"total_count": 25},
    ]
    assert page[1]["token"] and q.headers["X-Rhoconnect-PAGE-OBJECT-COUNT"] == "0"
    assert page[5] == {"links": {"temp-1": {"l": new_id}}}  # own changes do not come back
    apply_page(local, page)
    assert rc.page(token=page[1]["token"])[5] == {}
    records = server.state.records("Product", "alice")
    assert records[new_id] == {"name": "Created widget", "price": "1.00"}
    assert records["3"]["price"] == "99.99" and "4" not in records
    assert local == dict(records)


def test_other_clients_of_the_user_get_the_changes(server: MockServer) -> None:
    a, b = RC(server), RC(server)
    for c in (a, b):
        c.login("alice")
        c.create_client()
    b_local = b.sync_all()
    a.sync_all()
    a.push(create={"t1": {"name": "N"}}, update={"3": {"price": "99.99"}}, delete={"4": {}})
    rest = a.http.put(
        f"{a.base}/app/v1/Product/5", json={"client_id": a.client_id, "update": {"price": "55.55"}}
    )
    assert (rest.status_code, rest.content, rest.headers["Content-Type"]) == (200, b"", HTML)
    rest = a.http.delete(f"{a.base}/app/v1/Product/6", params={"client_id": a.client_id})
    assert (rest.status_code, rest.content) == (200, b"")
    page = b.page()
    assert page[5]["insert"]["3"] == {"price": "99.99"} and page[5]["insert"]["5"] == {"price": "55.55"}
    assert set(page[5]["delete"]) == {"3", "4", "5", "6"}
    apply_page(b_local, page)
    assert b_local == dict(server.state.records("Product", "alice"))
    assert a.page(token=a.page()[1]["token"])[5] == {}  # a got only its link, then nothing


def test_classic_push_has_warning_and_needs_source(rc: RC) -> None:
    r = rc.push(classic=True)
    assert (r.status_code, r.content) == (200, b"")
    assert (
        r.headers["Warning"] == "Use of the POST /application is deprecated. Use Rhoconnect API v1 instead."
    )
    r = rc.http.post(rc.base + "/application", json={"client_id": rc.client_id})
    assert (r.status_code, r.text) == (500, "Unknown source")


def test_malformed_push_is_500(rc: RC) -> None:
    r = rc.http.post(f"{rc.base}/app/v1/Product", data=b"{nope", headers={"Content-Type": "application/json"})
    assert (r.status_code, r.text, r.headers["Content-Type"]) == (
        500,
        "Server error while processing client data",
        "text/plain",  # the body parser answers before any route, as RhoConnect's does
    )


def test_failed_create_stops_queue_until_next_push(rc: RC, server: MockServer) -> None:
    rc.sync_all("Broken")
    server.state.fail_adapter("create", "Broken", "cannot create 'please fail'", objects=["temp-a"])
    r = rc.push(
        "Broken",
        create={"temp-a": {"name": "please fail", "qty": "7"}, "temp-b": {"name": "good one", "qty": "8"}},
    )
    assert (r.status_code, r.content) == (200, b"")
    empty3 = [{"version": 3}, {"token": ""}, {"count": 0}, {"progress_count": 0}, {"total_count": 3}]
    q = rc.query("Broken", p_size=10)
    assert q.json() == [
        *empty3,
        {
            "create-error": {
                "temp-a": {"name": "please fail", "qty": "7"},
                "temp-a-error": {"message": "cannot create 'please fail'"},
            }
        },
    ]
    assert "X-Rhoconnect-PAGE-TOKEN" not in q.headers
    assert rc.page("Broken", p_size=10) == [*empty3, {}]  # errors are delivered once
    rc.push("Broken")  # an empty push processes the queue
    page = rc.page("Broken", p_size=10)
    assert page[4] == {"total_count": 4}
    assert list(page[5]) == ["links"] and list(page[5]["links"]) == ["temp-b"]
    assert page[1]["token"]
    assert rc.page("Broken", token=page[1]["token"], p_size=10) == [*EMPTY4, {}]


def test_update_and_delete_errors_with_rollback(rc: RC, server: MockServer) -> None:
    rc.sync_all("Broken")
    rc.push("Broken", create={"x": {"name": "extra", "qty": "0"}})
    rc.page("Broken", token=rc.page("Broken")[1]["token"])
    state = server.state
    state.fail_adapter("update", "Broken", "update rejected")
    rc.push("Broken", update={"2": {"name": "Renamed 2"}})
    assert rc.page("Broken", p_size=10) == [
        *EMPTY4,
        {
            "update-error": {"2": {"name": "Renamed 2"}, "2-error": {"message": "update rejected"}},
            "update-rollback": {"2": {"name": "Broken 2", "qty": "2"}},
        },
    ]
    assert rc.page("Broken", p_size=10) == [*EMPTY4, {}]
    state.clear_adapter_failures()
    state.fail_adapter("delete", "Broken", "delete rejected")
    rc.push("Broken", delete={"3": {"name": "Broken 3", "qty": "3"}})
    assert rc.page("Broken", p_size=10) == [
        *EMPTY4,
        {"delete-error": {"3": {"name": "Broken 3", "qty": "3"}, "3-error": {"message": "delete rejected"}}},
    ]
    assert rc.page("Broken", token="123", p_size=10) == [*EMPTY4, {}]
    assert (
        "3" in state.records("Broken", "alice")
        and state.records("Broken", "alice")["2"]["name"] == "Broken 2"
    )


def test_mixed_push_errors_ride_with_links_until_acknowledged(rc: RC, server: MockServer) -> None:
    rc.sync_all("Broken")
    server.state.fail_adapter("update", "Broken", "update rejected")
    rc.push(
        "Broken",
        create={"temp-c": {"name": "third", "qty": "9"}},
        update={"1": {"qty": "100"}},
        delete={"2": {"name": "Broken 2", "qty": "2"}},
    )
    q = rc.query("Broken", p_size=10)
    page = q.json()
    assert page[4] == {"total_count": 3}  # created one, deleted one
    assert list(page[5]) == ["links", "update-error", "update-rollback"]
    assert page[5]["update-rollback"] == {"1": {"name": "Broken 1", "qty": "1"}}
    assert page[5]["update-error"] == {"1": {"qty": "100"}, "1-error": {"message": "update rejected"}}
    assert rc.query("Broken", token="1", p_size=10).content == q.content
    assert rc.page("Broken", token=page[1]["token"], p_size=10)[5] == {}
    assert "2" not in server.state.records("Broken", "alice")


def test_links_survive_a_new_sync_run_that_sends_no_token(rc: RC, server: MockServer) -> None:
    # RhoConnect 7.8 takes a missing token as "the pending page was applied" but keeps its links
    # page: a client that lost the links page still learns the server id of what it created.
    rc.sync_all()
    rc.push(create={"temp-1": {"name": "Created widget"}})
    lost = rc.page(p_size=10)
    links = lost[5]["links"]
    assert list(links) == ["temp-1"]
    rc.push(create={"temp-2": {"name": "Second widget"}})
    again = rc.page(p_size=10)  # a new sync run: no token
    assert again[1]["token"] not in ("", lost[1]["token"])
    assert again[5]["links"]["temp-1"] == links["temp-1"] and list(again[5]["links"]) == ["temp-1", "temp-2"]
    assert again[2] == {"count": 0} and set(again[5]) == {"links"}
    assert rc.page(token=again[1]["token"], p_size=10)[5] == {}  # acknowledged: gone for good


def test_put_route_failure_has_rollback(rc: RC, server: MockServer) -> None:
    rc.sync_all("Broken")
    server.state.fail_adapter("update", "Broken", "update rejected", times=1)
    rc.http.put(f"{rc.base}/app/v1/Broken/1", json={"client_id": rc.client_id, "update": {"qty": "5"}})
    page = rc.page("Broken", p_size=10)
    assert page[5] == {
        "update-error": {"1": {"qty": "5"}, "1-error": {"message": "update rejected"}},
        "update-rollback": {"1": {"name": "Broken 1", "qty": "1"}},
    }
    rc.http.put(f"{rc.base}/app/v1/Broken/1", json={"client_id": rc.client_id, "update": {"qty": "5"}})
    assert server.state.records("Broken", "alice")["1"]["qty"] == "5"  # times=1 was used up


def test_multipart_push_with_blob(rc: RC, server: MockServer) -> None:
    cud: dict[str, Any] = {
        "client_id": rc.client_id,
        "source_name": "Product",
        "create": {"tmp9": {"name": "With photo", "image_uri": "photo.jpg"}},
        "blob_fields": ["image_uri"],
    }
    files: dict[str, tuple[str | None, str | bytes, str]] = {
        "cud": (None, json.dumps(cud), "application/json"),
        "image_uri-tmp9": ("photo.jpg", b"\x89PNG-bytes", "application/octet-stream"),
    }
    r = rc.http.post(rc.base + "/application", files=files)
    assert (r.status_code, r.content) == (200, b"")
    page = rc.page()
    new_id = page[5]["links"]["tmp9"]["l"]
    assert server.state.blob("Product", "alice", new_id, "image_uri") == ("photo.jpg", b"\x89PNG-bytes")
    assert server.state.records("Product", "alice")[new_id]["name"] == "With photo"


def test_created_ids_follow_template(mock: Any) -> None:
    server = mock({"id_template": "srv-{source}-{n}", "sources": {"Product": {"records": 2}}})
    rc = RC(server)
    rc.login()
    rc.create_client()
    rc.push(create={"a": {"name": "x"}, "b": {"name": "y"}})
    assert rc.page()[5]["links"] == {"a": {"l": "srv-Product-1"}, "b": {"l": "srv-Product-2"}}


def test_large_multipart_push(rc: RC, server: MockServer) -> None:
    creates = {f"tmp{i}": {"name": f"Object {i}", "note": "x" * 100} for i in range(5000)}
    cud = {"client_id": rc.client_id, "source_name": "Product", "create": creates}
    files: dict[str, tuple[str | None, str | bytes, str]] = {
        "cud": (None, json.dumps(cud), "application/json")
    }
    assert len(files["cud"][1]) > 500_000
    files.update(
        {f"image-tmp{i}": (f"{i}.bin", b"\x00" * 10, "application/octet-stream") for i in range(1200)}
    )
    r = rc.http.post(rc.base + "/application", files=files)
    assert (r.status_code, r.content) == (200, b"")
    assert len(server.state.records("Product", "alice")) == 25 + 5000
