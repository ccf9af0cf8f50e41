"""No client can break the mock for the others: hostile input over HTTP and raw sockets.

A push holding text UTF-8 cannot carry is refused before it is stored; reading a request has a
total deadline and size limits, so clients that trickle bytes or send huge or broken requests
leave the others served; the admin API is never on the network without a token.
"""

from __future__ import annotations

import functools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from mock_rc import RC
from rhoconnect_mock import MockServer
from rhoconnect_mock.cli import build_config, main
from rhoconnect_mock.connection import SocketWriter

HTML = "text/html;charset=utf-8"
PLAIN = "text/plain"  # RhoConnect answers unreadable client data in text/plain, both URL families
BAD_BODY = "Server error while processing client data"
CONFIG: dict[str, Any] = {
    "sources": {
        "Product": {"records": 5, "generator": "sequence"},
        "Catalog": {"partition": "app", "records": 3, "generator": "sequence"},
    }
}


@pytest.fixture(scope="module")
def live() -> Iterator[MockServer]:
    with MockServer(CONFIG) as server:
        yield server


@pytest.fixture
def alice(live: MockServer) -> RC:
    rc = RC.signed_in(live)
    live.clear_errors()
    return rc


def _post_raw(rc: RC, path: str, body: bytes) -> requests.Response:
    return rc.http.post(
        rc.base + path,
        data=body,
        headers={"Content-Type": "application/json", "X-RhoConnect-CLIENT-ID": rc.client_id or ""},
    )


# -- lone surrogates ----------------------------------------------------------------------------


SURROGATE_PUSHES = {
    "value, escaped": b'{"create": {"t1": {"name": "\\ud800"}}}',
    "attribute name, escaped": b'{"create": {"t1": {"na\\udfffme": "x"}}}',
    "temp id, escaped": b'{"create": {"\\udbff": {"name": "x"}}}',
    "update value, escaped": b'{"update": {"1": {"name": "a\\ud834b"}}}',
    "value, raw bytes": b'{"create": {"t1": {"name": "\xed\xa0\x80"}}}',
}


@pytest.mark.parametrize("source", ["Product", "Catalog"])
@pytest.mark.parametrize("body", list(SURROGATE_PUSHES.values()), ids=list(SURROGATE_PUSHES))
def test_a_push_with_a_lone_surrogate_is_refused_and_breaks_no_other_client(
    live: MockServer, alice: RC, source: str, body: bytes
) -> None:
    r = _post_raw(alice, f"/app/v1/{source}", body)
    assert (r.status_code, r.text, r.headers["Content-Type"]) == (500, BAD_BODY, PLAIN)
    for login in ("alice", "bob"):  # the same user's other client, and another user (app partition)
        other = RC(live)
        assert other.login(login).status_code == 200
        other.create_client()
        assert len(other.sync_all(source)) == CONFIG["sources"][source]["records"]
    assert live.mock_errors() == []


def test_a_classic_cud_part_with_a_lone_surrogate_is_refused(live: MockServer, alice: RC) -> None:
    r = alice.http.post(
        alice.base + "/application",
        data={"client_id": alice.client_id, "source_name": "Product"},
        files={"cud": ("cud", b'{"create": {"t1": {"name": "\\ud800"}}}')},
    )
    assert (r.status_code, r.text) == (500, BAD_BODY)
    assert len(alice.sync_all("Product")) == 5


def test_escaped_text_that_utf8_carries_is_still_accepted(live: MockServer, alice: RC) -> None:
    body = b'{"create": {"t1": {"name": "\\u00e9\\ud83d\\ude00\\n"}}}'  # a surrogate pair is fine
    assert _post_raw(alice, "/app/v1/Product", body).status_code == 200
    other = RC(live)
    assert other.login("alice").status_code == 200
    other.create_client()
    names = {rec["name"] for rec in other.sync_all("Product").values()}
    assert "\u00e9\U0001f600\n" in names


def test_the_admin_api_refuses_a_lone_surrogate_with_a_400(live: MockServer) -> None:
    r = requests.post(
        live.admin_url + "sources/Product/users/alice/changes",
        data=b'{"insert": {"9": {"name": "\\ud800"}}}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["field"] == "body" and "surrogate" in r.json()["error"]


# -- deeply nested JSON, redirects, admin input -------------------------------------------------------


@pytest.mark.parametrize("path", ["/app/v1/Product", "/rc/v1/app/login", "/rc/v1/app/search"])
def test_deeply_nested_json_is_the_documented_500_not_a_mock_error(
    live: MockServer, alice: RC, path: str
) -> None:
    body = b'{"create": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    r = _post_raw(alice, path, body)
    assert (r.status_code, r.text, r.headers["Content-Type"]) == (500, BAD_BODY, PLAIN)
    assert live.mock_errors() == []


def test_deeply_nested_admin_json_is_a_400(live: MockServer) -> None:
    r = requests.post(live.admin_url + "faults", data=b"[" * 200_000 + b"]" * 200_000)
    assert r.status_code == 400 and r.json() == {"error": "the body is nested too deeply", "field": "body"}


@pytest.mark.parametrize("path", ["/_mock", "/rc/v1//app/login", "/application/", "/app/v1//Product"])
def test_paths_werkzeug_would_redirect_answer_404(live: MockServer, path: str) -> None:
    r = requests.get(live.base_url + path, allow_redirects=False)
    assert r.status_code == 404 and "Location" not in r.headers
    if path.startswith("/_mock"):
        assert r.json() == {"error": "no such admin route", "field": "path"}
    else:
        assert (r.text, r.headers["Content-Type"]) == ("<h1>Not Found</h1>", HTML)


@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "-1", "1.5", ""])
@pytest.mark.parametrize("key", ["limit", "since", "status"])
def test_journal_numbers_that_are_not_ascii_digits_are_a_400(live: MockServer, key: str, value: str) -> None:
    r = requests.get(live.admin_url + "journal", params={key: value})
    assert r.status_code == 400
    assert r.json() == {"error": "must be a non-negative integer", "field": key}


# -- raw sockets: limits and broken requests ----------------------------------------------------------


def _exchange(server: MockServer, data: bytes, *, half_close: bool = False, wait: float = 10) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes it (or ``wait`` passes)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def _refusals(server: MockServer) -> list[tuple[str, str, int, str]]:
    """The journal's entries for answers the server gave itself: (method, path, status, body)."""
    return [
        (e.method, e.path, e.status or 0, e.response_body or "")
        for e in server.journal()
        if e.operation == "other" and e.content_type == "text/plain"
    ]


@pytest.fixture
def limited(mock: Callable[..., MockServer]) -> MockServer:
    return mock({**CONFIG, "max_body_size": 1000, "max_header_size": 2048, "request_timeout": 1})


def test_headers_over_the_limit_are_431(limited: MockServer) -> None:
    answer = _exchange(
        limited, b"GET /rc/v1/app/login HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 4096 + b"\r\n\r\n"
    )
    assert _status(answer) == 431 and b"Connection: close" in answer
    [(method, path, status, body)] = _refusals(limited)
    assert (method, path, status) == ("GET", "/rc/v1/app/login", 431) and "header" in body
    admin = _exchange(
        limited, b"GET /_mock/journal HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 4096 + b"\r\n\r\n"
    )
    assert _status(admin) == 431 and len(_refusals(limited)) == 1  # admin requests stay out of the journal


def test_a_body_over_the_limit_is_413_before_it_is_read(limited: MockServer) -> None:
    head = b"POST /rc/v1/app/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    answer = _exchange(limited, head + b"Content-Length: 100000000\r\n\r\n{")
    assert _status(answer) == 413
    chunked = head + b"Transfer-Encoding: chunked\r\n\r\n" + b"400\r\n" + b"x" * 1024 + b"\r\n0\r\n\r\n"
    assert _status(_exchange(limited, chunked)) == 413
    assert limited.mock_errors() == []
    assert [r[:3] for r in _refusals(limited)] == [("POST", "/rc/v1/app/login", 413)] * 2


def test_a_body_at_the_limit_is_served(limited: MockServer) -> None:
    body = b'{"login": "alice", "password": "pw", "pad": "' + b"x" * 900 + b'"}'
    assert len(body) <= 1000
    r = requests.post(
        limited.base_url + "/rc/v1/app/login", data=body, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 200


def test_content_length_with_transfer_encoding_is_refused(limited: MockServer) -> None:
    answer = _exchange(
        limited,
        b"POST /rc/v1/app/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /_mock/ HTTP/1.1\r\n\r\n",
    )
    assert _status(answer) == 400 and answer.count(b"HTTP/1.1 ") == 1  # nothing smuggled after it
    # The refusal is the only request recorded: nothing after it reached the app.
    assert [(e.method, e.path, e.status) for e in limited.journal()] == [("POST", "/rc/v1/app/login", 400)]
    assert limited.mock_errors() == []


@pytest.mark.parametrize(
    ("body", "half_close"),
    [
        (b'Content-Length: 100\r\n\r\n{"login":', True),  # the client stops sending and closes
        (b'Content-Length: 100\r\n\r\n{"login":', False),  # the client stops sending: the deadline
        (b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", False),  # a bad chunk size
        (b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}", True),  # chunks that never end
    ],
)
def test_incomplete_or_badly_chunked_bodies_are_400_without_alarm(
    limited: MockServer, body: bytes, half_close: bool
) -> None:
    head = b"POST /rc/v1/app/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    started = time.monotonic()
    answer = _exchange(limited, head + body, half_close=half_close)
    assert _status(answer) == 400 and b"request body could not be read" in answer
    assert time.monotonic() - started < 5
    assert limited.mock_errors() == []
    [(_, path, status, message)] = _refusals(limited)
    assert (path, status) == ("/rc/v1/app/login", 400) and message.encode() in answer


# -- slow clients ---------------------------------------------------------------------------------------


class Tricklers:
    """``count`` connections that send a request one byte every ``interval`` seconds, never finishing."""

    def __init__(self, server: MockServer, count: int, interval: float, *, body: bool) -> None:
        head = b"POST /rc/v1/app/login HTTP/1.1\r\nHost: x\r\n"
        self.data = head + b"Content-Length: 100000\r\n\r\n" if body else head + b"X-Slow: " + b"a" * 10_000
        self.sockets = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(count)]
        self.sent = 0 if not body else len(self.data)
        if body:  # the headers go at once; the body trickles
            for sock in self.sockets:
                sock.sendall(self.data)
        self.interval = interval
        self.stop = threading.Event()
        self.closed_by_server = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        live = list(self.sockets)
        while live and not self.stop.wait(self.interval):
            for sock in list(live):
                try:
                    sock.send(self.data[self.sent : self.sent + 1] if self.sent < len(self.data) else b"x")
                except OSError:
                    live.remove(sock)
                    self.closed_by_server += 1
            self.sent += 1

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        for sock in self.sockets:
            sock.close()


@pytest.mark.parametrize("body", [False, True], ids=["headers", "body"])
def test_a_hundred_trickling_clients_leave_the_others_served(
    mock: Callable[..., MockServer], body: bool
) -> None:
    server = mock(CONFIG)  # default workers and deadline
    slow = Tricklers(server, 100, 0.5, body=body)
    try:
        time.sleep(1.5)  # every trickler has a worker by now
        rc = RC(server)
        rc.http.request = functools.partial(rc.http.request, timeout=5)  # type: ignore[method-assign]
        latencies = []
        for _ in range(10):
            started = time.monotonic()
            assert rc.login().status_code == 200
            rc.create_client()
            assert len(rc.sync_all("Product", p_size=2)) == 5
            latencies.append(time.monotonic() - started)
        assert max(latencies) < 3, latencies
    finally:
        slow.close()


def test_a_trickling_client_is_cut_off_at_the_deadline(mock: Callable[..., MockServer]) -> None:
    server = mock({**CONFIG, "threads": 4, "request_timeout": 1})
    slow = Tricklers(server, 8, 0.2, body=False)  # twice as many as workers
    try:
        started = time.monotonic()
        r = requests.post(
            server.base_url + "/rc/v1/app/login", json={"login": "a", "password": "b"}, timeout=10
        )
        assert r.status_code == 200
        assert time.monotonic() - started < 4  # at most two deadlines' worth of waiting for a worker
        time.sleep(1.5)
        for sock in slow.sockets:  # each got cheroot's 408 and the connection's end
            sock.settimeout(2)
            assert sock.recv(4096).startswith(b"HTTP/1.1 408 ")
    finally:
        slow.close()
    assert server.mock_errors() == []
    # Each 408 is in the journal; the request line never arrived whole, so it has no method or path.
    assert [r for r in _refusals(server) if r[2] == 408] == [("", "", 408, "")] * len(slow.sockets)


# -- the admin API on the network ---------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "0", "::", "192.0.2.1", "example.org"])
def test_a_network_bind_without_an_admin_token_is_refused(
    host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve", "--host", host, "--port", "0"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: host: ") and "--admin-token" in err and err.count("\n") == 1
    assert build_config({"host": host, "admin_token": "t0k"}, {}).host == host


@pytest.mark.parametrize(
    ("args", "key"),
    [(["--admin-token", ""], "admin_token"), (["--host", ""], "host"), (["--host", "  "], "host")],
)
def test_empty_host_or_token_is_one_error_line(
    args: list[str], key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve", "--port", "0", *args])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"Error: {key}: ") and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.1.2.3"])
def test_loopback_needs_no_token(host: str) -> None:
    assert build_config({"host": host}, {}).admin_token is None


@pytest.mark.parametrize(
    ("key", "value"),
    [("max_body_size", "0"), ("max_header_size", "10"), ("request_timeout", "0"), ("request_timeout", "nan")],
)
def test_limits_are_validated(key: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve", "--port", "0", "--" + key.replace("_", "-"), value])
    assert info.value.code == 2 and capsys.readouterr().err.startswith(f"Error: {key}: ")


@pytest.mark.parametrize(("key", "value"), [("outcome", "AAA"), ("family", "soap")])
def test_journal_filters_with_a_closed_set_of_values_refuse_others(
    live: MockServer, key: str, value: str
) -> None:
    r = requests.get(live.admin_url + "journal", params={key: value})
    assert (
        r.status_code == 400 and r.json()["field"] == key and r.json()["error"].startswith("must be one of")
    )


def test_an_admin_method_not_allowed_lists_the_allowed_ones(live: MockServer) -> None:
    r = requests.request("TRACE", live.admin_url + "journal")
    assert r.status_code == 405 and set(r.headers["Allow"].split(", ")) >= {"GET", "DELETE"}


def test_null_match_and_when_are_every_request(live: MockServer) -> None:
    rule = {"match": None, "when": None, "action": {"type": "status", "status": 503}}
    r = requests.post(live.admin_url + "faults", json={"faults": [rule]})
    assert r.status_code == 201 and r.json()["faults"][0]["match"] == {}
    live.reset()


class _ShortSends:
    """A socket stand-in whose ``send`` takes at most 3 bytes, as a full send buffer does."""

    def __init__(self) -> None:
        self.received = bytearray()

    def send(self, data: Any) -> int:
        part = bytes(data[:3])
        self.received += part
        return len(part)


def test_the_socket_writer_resumes_partial_sends_and_counts_bytes() -> None:
    fake = _ShortSends()
    writer = SocketWriter(fake, 8192)  # type: ignore[arg-type]
    body = bytes(range(256)) * 40
    assert writer.write(b"HTTP/1.1 200 OK\r\n\r\n") == 19
    assert writer.write(bytearray(body)) == len(body)
    assert bytes(fake.received) == b"HTTP/1.1 200 OK\r\n\r\n" + body
    assert writer.bytes_written == 19 + len(body)
