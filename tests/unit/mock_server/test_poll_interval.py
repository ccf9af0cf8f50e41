"""Per-source ``poll_interval``: RhoConnect 7.8's cached master document, over HTTP.

Within the interval other clients see creates and whole-object deletes at once, but not updates,
partial deletes or backend changes; ``expire_poll_interval`` stands for "the interval ran out".
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from mock_rc import RC, apply_page
from rhoconnect_mock import MockServer
from rhoconnect_mock.cli import banner, build_config
from rhoconnect_mock.config import MockConfig, load_config, resolve_config
from rhoconnect_mock.errors import ConfigError

POLLED: dict[str, Any] = {
    "id_template": "new-{n}",
    "sources": {"Product": {"generator": "sequence", "poll_interval": 300}},
}


def _client(server: MockServer) -> RC:
    rc = RC(server)
    rc.login("alice")
    rc.create_client()
    return rc


def _pushed(a: RC) -> None:
    """The main recording's pushes (main-10, main-13, main-14): create, update 3, partial delete 4,
    PUT 5, DELETE 6."""
    a.push(
        create={"temp-1": {"name": "Created widget", "price": "1.00"}},
        update={"3": {"price": "99.99"}},
        delete={"4": {"name": "Product 4"}},
    )
    a.http.put(f"{a.base}/app/v1/Product/5", json={"client_id": a.client_id, "update": {"price": "55.55"}})
    a.http.delete(f"{a.base}/app/v1/Product/6", params={"client_id": a.client_id})


def test_config_layers_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text("[sources.Product]\npoll_interval = 300\n")
    assert load_config(path).sources[0].poll_interval == 300
    assert MockConfig().sources[0].poll_interval == 0
    env = {"RHOCONNECT_MOCK_POLL_INTERVAL": "Product=60"}
    assert resolve_config(path, env).sources[0].poll_interval == 60
    cfg = build_config({"config": str(path), "poll_interval": ("Product=5",)}, env)
    assert cfg.sources[0].poll_interval == 5
    assert "poll interval 5 s" in banner(cfg, "http://h:1")
    for text in ("poll_interval = -1", "poll_interval = 'soon'", "poll_interval = 1.5"):
        path.write_text(f"[sources.Product]\n{text}\n")
        with pytest.raises(ConfigError) as info:
            load_config(path)
        assert info.value.key == "sources.Product.poll_interval"
    with pytest.raises(ConfigError, match="expected Source=SECONDS"):
        resolve_config(None, {"RHOCONNECT_MOCK_POLL_INTERVAL": "Product=later"})
    with pytest.raises(ConfigError) as info:
        build_config({"poll_interval": ("Product",)}, {})
    assert info.value.key == "--poll-interval"


def test_default_has_no_cache(mock: Callable[..., MockServer]) -> None:
    server = mock({"sources": {"Product": {"generator": "sequence"}}})
    assert server.state.view("Product", "alice") is server.state.master("Product", "alice")
    polled = mock(POLLED)
    assert polled.state.view("Product", "alice") is not polled.state.master("Product", "alice")


def test_within_the_interval_only_creates_and_whole_deletes_reach_others(
    mock: Callable[..., MockServer],
) -> None:
    server = mock(POLLED)
    a, b = _client(server), _client(server)
    a_local = a.sync_all()
    _pushed(a)
    # What the pushing client did locally before pushing.
    a_local["temp-1"] = {"name": "Created widget", "price": "1.00"}
    a_local["3"]["price"], a_local["5"]["price"] = "99.99", "55.55"
    del a_local["4"], a_local["6"]
    page = a.page(p_size=10)
    # The pusher gets only its link; total_count is md_size: 25 + 1 create - 2 deletes, although
    # '4' was not removed.
    assert page[2:5] == [{"count": 0}, {"progress_count": 0}, {"total_count": 24}]
    assert page[5] == {"links": {"temp-1": {"l": "new-1"}}}
    apply_page(a_local, page)
    assert a.page(token=page[1]["token"])[2:] == [
        {"count": 0},
        {"progress_count": 0},
        {"total_count": 24},
        {},
    ]
    b_local = b.sync_all(p_size=100)
    assert b_local["3"]["price"] == "3.75" and b_local["5"]["price"] == "6.25"  # updates: adapter only
    assert b_local["4"]["name"] == "Product 4"  # a delete of some attributes removes nothing
    assert "6" not in b_local  # the single-object DELETE sends the whole object
    assert b_local["new-1"] == {"name": "Created widget", "price": "1.00"}
    # What the adapter holds meanwhile:
    records = server.state.records("Product", "alice")
    assert records["3"]["price"] == "99.99" and "4" not in records and "6" not in records

    server.state.expire_poll_interval("Product")
    page = b.page(p_size=100)
    assert page[5]["insert"] == {"3": {"price": "99.99"}, "5": {"price": "55.55"}}
    assert page[5]["delete"] == {
        "3": {"price": "3.75"},
        "5": {"price": "6.25"},
        "4": b_local["4"],
    }
    assert page[4] == {"total_count": 24}  # the adapter's count again
    apply_page(b_local, page)
    b.page(token=page[1]["token"], p_size=100)
    assert b_local == dict(records)
    # The pusher converges too: its own update and the partial delete come back now.
    a.sync_all(local=a_local)
    assert a_local == dict(records)


def test_backend_changes_wait_for_the_interval(mock: Callable[..., MockServer]) -> None:
    server = mock(POLLED)
    a = _client(server)
    local = a.sync_all()
    server.state.backend_update("Product", "alice", "1", {"price": "0.01"})
    server.state.backend_insert("Product", "alice", "99", {"name": "Late"})
    server.state.backend_delete("Product", "alice", "2")
    assert a.page()[2:] == [{"count": 0}, {"progress_count": 0}, {"total_count": 25}, {}]
    server.state.fail_adapter("query", "Product", "down")
    server.state.expire_poll_interval()
    page = a.page()
    assert page[5] == {"source-error": {"query-error": {"message": "down"}}}  # no refresh on failure
    server.state.clear_adapter_failures()
    page = a.page()  # the failed query did not use up the refresh
    assert page[5]["insert"] == {"1": {"price": "0.01"}, "99": {"name": "Late"}}
    assert set(page[5]["delete"]) == {"1", "2"}
    assert page[4] == {"total_count": 25}
    apply_page(local, page)
    assert local == dict(server.state.records("Product", "alice"))


def test_search_results_enter_the_cache(mock: Callable[..., MockServer]) -> None:
    server = mock(POLLED)
    a, b = _client(server), _client(server)
    a.sync_all()
    a.push(update={"3": {"price": "99.99"}})
    # The pusher still holds 3.75: the search sends it the adapter's object, whole.
    found = a.search([{"name": "Product"}], {"brand": "Brand 3"}, p_size=2)
    assert found[0][3:] == [
        {"count": 1},
        {
            "insert": {
                "3": {
                    "name": "Product 3",
                    "brand": "Brand 3",
                    "price": "99.99",
                    "quantity": "3",
                    "sku": "SKU-000003",
                }
            }
        },
    ]
    b_found = b.search([{"name": "Product"}], {"brand": "Brand 3"}, p_size=10)
    assert set(b_found[0][4]["insert"]) == {"3", "10", "17", "24"}
    page = b.page(p_size=100)
    # '3' comes back whole at the cached price, with no delete: the cache holds both versions.
    assert page[5]["insert"]["3"]["price"] == "3.75" and len(page[5]["insert"]["3"]) == 5
    assert "delete" not in page[5] and page[2] == {"count": 22}
    assert page[4] == {"total_count": 26}  # md_size counts the stored search result


def test_update_error_rolls_back_to_the_cached_object(mock: Callable[..., MockServer]) -> None:
    server = mock(POLLED)
    a = _client(server)
    a.sync_all()
    server.state.backend_update("Product", "alice", "2", {"price": "8.00"})
    server.state.fail_adapter("update", "Product", "no")
    a.push(update={"2": {"price": "1.00"}})
    rollback = a.page()[5]["update-rollback"]
    assert rollback == {
        "2": {"name": "Product 2", "brand": "Brand 2", "price": "2.50", "quantity": "2", "sku": "SKU-000002"}
    }


def test_bulk_data_holds_the_cached_document(mock: Callable[..., MockServer], tmp_path: Path) -> None:
    server = mock({**POLLED, "bulk_dir": str(tmp_path / "bulk"), "bulk_wait_polls": 0})
    a, b = _client(server), _client(server)
    a.sync_all()
    a.push(update={"3": {"price": "99.99"}})
    answer = b.http.post(
        f"{b.base}/rc/v1/app/bulk_data",
        json={"client_id": b.client_id, "partition": "user", "sources": ["Product"]},
    ).json()
    data = requests.get(server.base_url + answer["url"], timeout=10)
    path = tmp_path / "file.data"
    path.write_bytes(data.content)
    with sqlite3.connect(path) as db:
        price, refresh = db.execute(
            "SELECT value, backend_refresh_time FROM object_values JOIN sources USING (source_id)"
            " WHERE object = '3' AND attrib = 'price'"
        ).fetchone()
    assert price == "3.75" and refresh > 0
    assert b.page()[2:] == [{"count": 0}, {"progress_count": 0}, {"total_count": 25}, {}]
    server.state.expire_poll_interval("Product")
    assert b.page()[5]["insert"] == {"3": {"price": "99.99"}}
