"""Transport: URLs, bodies and headers of both families, status and network error translation,
cancellation, downloads, TLS verification; against a small real HTTP server on a free port."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from rhoconnect_client.exceptions import (
    Cancelled,
    ConnectionFailed,
    HTTPStatusError,
    NotAuthorized,
    RequestTimeout,
)
from rhoconnect_client.transport import Transport


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[dict[str, Any]] = []
        self.reply: tuple[int, dict[str, str], bytes] = (200, {}, b"")
        # A slow server: while ``hold`` is set, requests wait for ``release`` before answering.
        self.hold = False
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.mode = "normal"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Recorder

    def log_message(self, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.requests.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
        )
        self.server.arrived.set()
        if self.server.hold:
            self.server.release.wait(30)
        if self.server.mode == "reset":
            self.wfile.write(b'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n[{"ver')
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        status, headers, payload = self.server.reply
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _handle


@pytest.fixture
def server() -> Iterator[Recorder]:
    srv = Recorder()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()


def test_classic_login_sends_json_and_returns_cookie_session(server: Recorder) -> None:
    server.reply = (200, {"Set-Cookie": "rhoconnect_session=abc%3D%3D--f00; path=/; HttpOnly"}, b"")
    transport = Transport(server.url + "/application")
    session = transport.login(b'{"login":"alice","password":"secret","remember_me":1}')
    assert session == "rhoconnect_session=abc%3D%3D--f00"
    request = server.requests[0]
    assert (request["method"], request["path"]) == ("POST", "/application/clientlogin")
    assert request["headers"]["Content-Type"] == "application/json"
    assert json.loads(request["body"]) == {"login": "alice", "password": "secret", "remember_me": 1}
    assert "Cookie" not in request["headers"]


def test_classic_routes_carry_session_cookie_and_client_id(server: Recorder) -> None:
    transport = Transport(server.url + "/application/")
    transport.session = "rhoconnect_session=xyz"
    server.reply = (200, {}, b'{"client":{"client_id":"c1"}}')
    assert transport.client_create() == b'{"client":{"client_id":"c1"}}'
    server.reply = (200, {}, b"[]")
    transport.query("Product", client_id="c1", page_size=2000, token=None)
    transport.query("Product", client_id="c1", page_size=10, token=564895898621905, query_params="query[a]=b")
    transport.push(
        "Product", "c1", {"source_name": "Product", "client_id": "c1", "create": {"1": {"a": "b"}}}
    )
    transport.search(
        from_="search",
        client_id="c1",
        page_size=2,
        sources=[("Product", None), ("Other", 77)],
        search_params={"brand": "Brand 3"},
        offset=0,
        max_results=5,
    )
    transport.bulk_data(client_id="c1", partition="user", sources=["Product", "Other"])
    transport.client_reset("c1", ["Product"])
    # Compared decoded: servers decode brackets and %5B alike.
    paths = [(r["method"], urllib.parse.unquote(r["path"])) for r in server.requests]
    assert paths == [
        ("GET", "/application/clientcreate"),
        ("GET", "/application?client_id=c1&p_size=2000&version=3&source_name=Product"),
        (
            "GET",
            "/application?client_id=c1&p_size=10&version=3&source_name=Product&token=564895898621905"
            "&query[a]=b",
        ),
        ("POST", "/application"),
        (
            "GET",
            "/application/search?client_id=c1&p_size=2&version=3&sources[][name]=Product"
            "&sources[][name]=Other&sources[][token]=77&offset=0&max_results=5&search[brand]=Brand 3",
        ),
        ("GET", "/application/bulk_data?client_id=c1&partition=user&sources=Product,Other"),
        ("GET", "/application/clientreset?client_id=c1&sources[][name]=Product"),
    ]
    assert all(r["headers"]["Cookie"] == "rhoconnect_session=xyz" for r in server.requests)
    assert (
        server.requests[3]["body"] == b'{"source_name":"Product","client_id":"c1","create":{"1":{"a":"b"}}}'
    )
    assert server.requests[3]["headers"]["X-RhoConnect-CLIENT-ID"] == "c1"


def test_rest_routes(server: Recorder) -> None:
    transport = Transport(server.url, url_family="rest")
    server.reply = (200, {"Set-Cookie": "rhoconnect_session=r1; path=/"}, b"")
    transport.session = transport.login(b"{}")
    server.reply = (200, {}, b"[]")
    transport.client_create()
    transport.query("Product", client_id="c1", page_size=10, token=5)
    transport.push("Product", "c1", {"source_name": "Product", "client_id": "c1"})
    transport.search(
        from_="search", client_id="c1", page_size=2, sources=[("Product", 9)], search_params={"brand": "B"}
    )
    transport.bulk_data(client_id="c1", partition="app", sources=["Product"])
    transport.client_reset("c1", ["Product"])
    paths = [(r["method"], r["path"]) for r in server.requests]
    assert paths == [
        ("POST", "/rc/v1/app/login"),
        ("POST", "/rc/v1/clients"),
        ("GET", "/app/v1/Product?client_id=c1&p_size=10&version=3&token=5"),
        ("POST", "/app/v1/Product"),
        ("POST", "/rc/v1/app/search"),
        ("POST", "/rc/v1/app/bulk_data"),
        ("POST", "/rc/v1/clients/c1/reset"),
    ]
    assert json.loads(server.requests[4]["body"]) == {
        "client_id": "c1",
        "sources": [{"name": "Product", "token": "9"}],
        "search": {"brand": "B"},
        "p_size": 2,
        "version": 3,
    }
    assert json.loads(server.requests[5]["body"]) == {
        "client_id": "c1",
        "partition": "app",
        "sources": ["Product"],
    }
    assert json.loads(server.requests[6]["body"]) == {"sources": [{"name": "Product"}]}
    assert server.requests[2]["headers"]["Cookie"] == "rhoconnect_session=r1"


@pytest.mark.parametrize(
    ("status", "body", "leaf", "code", "rho"),
    [
        (401, b"Not authenticated", NotAuthorized, 401, 9),
        (500, b"Unknown client", HTTPStatusError, 500, 2),
        (404, b"", HTTPStatusError, 404, 2),
        # only 200 and 206 are success (docs/protocol.md#headers-and-success-codes)
        (201, b"", HTTPStatusError, 201, 2),
    ],
)
def test_statuses_become_structured_errors(
    server: Recorder, status: int, body: bytes, leaf: type[HTTPStatusError], code: int, rho: int
) -> None:
    server.reply = (status, {}, body)
    transport = Transport(server.url + "/application")
    with pytest.raises(leaf) as info:
        transport.query("Product", client_id="c", page_size=1, token=None)
    assert type(info.value) is leaf
    assert (info.value.error_code, info.value.rho_error_code) == (code, rho)
    assert info.value.body == body.decode()
    assert info.value.unknown_client == (body == b"Unknown client")


def test_206_is_success(server: Recorder) -> None:
    server.reply = (206, {}, b"partial")
    assert Transport(server.url + "/application").client_create() == b"partial"


def test_connection_refused() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    transport = Transport(f"http://127.0.0.1:{port}/application", timeout=5)
    with pytest.raises(ConnectionFailed) as info:
        transport.client_create()
    assert info.value.error_code == 1 and info.value.rho_error_code == 1
    assert f"127.0.0.1:{port}" in info.value.message


def test_timeout(server: Recorder) -> None:
    server.hold = True
    transport = Transport(server.url + "/application", timeout=0.2)
    with pytest.raises(RequestTimeout) as info:
        transport.client_create()
    assert info.value.error_code == 1


def test_connection_reset_mid_body(server: Recorder) -> None:
    server.mode = "reset"
    transport = Transport(server.url + "/application")
    with pytest.raises(ConnectionFailed):
        transport.query("Product", client_id="c", page_size=1, token=None)


def test_cancel_interrupts_a_blocked_request(server: Recorder) -> None:
    server.hold = True
    transport = Transport(server.url + "/application", timeout=10)

    def cancel_once_it_arrived() -> None:
        if server.arrived.wait(5):
            transport.cancel()

    canceller = threading.Thread(target=cancel_once_it_arrived)
    canceller.start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        transport.client_create()
    assert time.monotonic() - started < 2.0
    canceller.join(5)
    with pytest.raises(Cancelled):  # stays cancelled until reset
        transport.client_create()
    transport.reset_cancel()
    server.hold = False
    server.release.set()
    assert transport.client_create() == b""


def test_download_streams_to_file(server: Recorder, tmp_path: Path) -> None:
    payload = bytes(range(256)) * 4096
    server.reply = (200, {}, payload)
    transport = Transport(server.url + "/application")
    url = transport.bulk_file_url("/data/application/alice_1.data")
    assert url == server.url + "/data/application/alice_1.data.rzip"
    dest = tmp_path / "f.rzip"
    assert transport.download(url, dest) == len(payload)
    assert dest.read_bytes() == payload
    server.reply = (404, {}, b"nope")
    with pytest.raises(HTTPStatusError):
        transport.download(url, dest)


def test_post_form_for_url_callbacks(server: Recorder) -> None:
    server.reply = (200, {}, b"stop")
    transport = Transport(server.url + "/application")
    answer = transport.post_form(server.url + "/cb", [("status", "ok"), ("server_errors[a][b]", "x y")])
    assert answer == "stop"
    request = server.requests[0]
    assert request["body"] == b"status=ok&server_errors%5Ba%5D%5Bb%5D=x+y"
    assert request["headers"]["Content-Type"] == "application/x-www-form-urlencoded"


def test_bad_urls_and_family_are_rejected() -> None:
    with pytest.raises(ValueError):
        Transport("ftp://host/application")
    with pytest.raises(ValueError):
        Transport("http://host/application", url_family="soap")  # type: ignore[arg-type]


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_self_signed_refused_unless_verification_is_off(self_signed_cert: tuple[Path, Path]) -> None:
    cert, key = self_signed_cert
    srv = Recorder()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    srv.socket = context.wrap_socket(srv.socket, server_side=True)
    srv.reply = (200, {}, b'{"client":{"client_id":"c"}}')
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"https://127.0.0.1:{srv.server_address[1]}/application"
        transport = Transport(url, timeout=5)
        with pytest.raises(ConnectionFailed) as info:
            transport.client_create()
        assert "TLS" in info.value.message
        transport.verify_ssl = False
        assert transport.client_create() == b'{"client":{"client_id":"c"}}'
    finally:
        srv.shutdown()
        srv.server_close()
