"""Opt-in CORS (``--cors ORIGIN...`` / config ``cors``), as RhoConnect's optional CORS middleware.

Off by default, as on the real server: then an ``OPTIONS`` request is Sinatra's 404. With origins
configured, a preflight from one of them is answered 200 ``text/plain`` with only the CORS
headers, and protocol answers to requests from them carry the headers too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from rhoconnect_mock import MockServer
from rhoconnect_mock.cli import build_config
from rhoconnect_mock.config import MockConfig
from rhoconnect_mock.errors import ConfigError

APP = "http://app.example:8080"
PREFLIGHT = {
    "Origin": APP,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type,x-rhoconnect-client-id",
}
CORS_HEADERS = {
    "Access-Control-Allow-Origin": APP,
    "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE",
    "Access-Control-Expose-Headers": "",
    "Access-Control-Max-Age": "1728000",
    "Access-Control-Allow-Credentials": "true",
}


@pytest.fixture(scope="module")
def cors() -> Iterator[MockServer]:
    with MockServer({"cors": [APP, "localhost:3000"]}) as server:
        yield server


def _options(server: MockServer, path: str, headers: dict[str, str]) -> requests.Response:
    return requests.options(server.base_url + path, headers=headers, timeout=10)


def test_off_by_default_options_stays_a_404() -> None:
    with MockServer() as server:
        r = _options(server, "/rc/v1/app/login", PREFLIGHT)
        assert (r.status_code, r.text) == (404, "<h1>Not Found</h1>")
        r = requests.post(
            server.base_url + "/rc/v1/app/login",
            json={"login": "a", "password": "b"},
            headers={"Origin": APP},
        )
        assert r.status_code == 200 and not any(h.startswith("Access-Control") for h in r.headers)


def test_a_preflight_from_an_allowed_origin(cors: MockServer) -> None:
    r = _options(cors, "/rc/v1/app/login", PREFLIGHT)
    assert (r.status_code, r.content) == (200, b"")
    expected = {
        **CORS_HEADERS,
        "Content-Type": "text/plain",
        "Access-Control-Allow-Headers": "content-type,x-rhoconnect-client-id",
        "Content-Length": "0",
    }
    # Answered before the server: none of its own headers (no cookie, no Cache-Control, no nosniff).
    assert {k: v for k, v in r.headers.items() if k not in ("Date", "Server", "Connection")} == expected


def test_preflights_the_middleware_does_not_answer_reach_the_server(cors: MockServer) -> None:
    for headers in (
        {**PREFLIGHT, "Origin": "http://elsewhere.example"},  # origin not allowed
        {**PREFLIGHT, "Access-Control-Request-Method": "PATCH"},  # method not allowed
        {"Origin": APP},  # not a preflight
    ):
        r = _options(cors, "/rc/v1/app/login", headers)
        assert r.status_code == 404, headers
    admin = _options(cors, "/_mock/journal", PREFLIGHT)  # the admin API is not shared
    assert admin.status_code != 200 and "Access-Control-Allow-Origin" not in admin.headers


def test_a_cross_origin_sync_gets_the_headers(cors: MockServer) -> None:
    http = requests.Session()
    http.headers["Origin"] = APP
    r = http.post(cors.base_url + "/rc/v1/app/login", json={"login": "alice", "password": "x"})
    assert r.status_code == 200
    assert {k: r.headers[k] for k in CORS_HEADERS} == CORS_HEADERS
    cid = http.post(cors.base_url + "/rc/v1/clients", json={}).json()["client"]["client_id"]
    r = http.get(cors.base_url + "/app/v1/Product", params={"client_id": cid, "p_size": 2})
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == APP
    assert r.headers["X-Rhoconnect-PAGE-OBJECT-COUNT"] == "2"
    r = http.get(cors.base_url + "/app/v1/Product", params={"client_id": "nobody"})
    assert r.status_code == 500 and r.headers["Access-Control-Allow-Origin"] == APP  # errors too
    r = requests.get(cors.base_url + "/app/v1/Product", headers={"Origin": "http://evil.example"}, timeout=10)
    assert "Access-Control-Allow-Origin" not in r.headers


def test_origins_without_a_scheme_mean_http_and_x_origin_stands_in(cors: MockServer) -> None:
    r = requests.get(
        cors.base_url + "/application/clientcreate", headers={"X-Origin": "http://localhost:3000"}, timeout=10
    )
    assert r.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"


def test_any_origin_and_pages_opened_from_files() -> None:
    with MockServer({"cors": "*"}) as server:
        r = _options(server, "/application/clientlogin", {**PREFLIGHT, "Origin": "null"})
        assert (r.status_code, r.headers["Access-Control-Allow-Origin"]) == (200, "*")
    with MockServer({"cors": ["file://"]}) as server:
        r = _options(server, "/application/clientlogin", {**PREFLIGHT, "Origin": "null"})
        assert (r.status_code, r.headers["Access-Control-Allow-Origin"]) == (200, "file://")


@pytest.mark.parametrize(
    ("value", "origins"),
    [("*", ["*"]), ("http://a:1, http://b:2", ["http://a:1", "http://b:2"]), (["x.example"], ["x.example"])],
)
def test_config_key(value: Any, origins: list[str]) -> None:
    assert MockConfig.from_mapping({"cors": value}).cors == origins


@pytest.mark.parametrize("value", [5, [""], [3], {"a": 1}])
def test_config_key_errors(value: Any) -> None:
    with pytest.raises(ConfigError) as info:
        MockConfig.from_mapping({"cors": value})
    assert info.value.key == "cors"


def test_cli_option() -> None:
    cfg = build_config({"cors": ("http://a:1", "http://b:2,http://c:3")}, {})
    assert cfg.cors == ["http://a:1", "http://b:2", "http://c:3"]
    assert build_config({}, {}).cors == []
