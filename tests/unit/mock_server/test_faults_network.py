"""Network faults on a live server: delay, trickle, reset before/after headers, truncated body.

``requests`` shows what a client library sees; a raw socket shows the exact bytes on the wire.
Lower bounds on elapsed time are safe (an injected delay can only make things slower).
"""

from __future__ import annotations

import socket
import time

import pytest
import requests
from rhoconnect_mock import MockServer
from rhoconnect_mock.faults import parse_rule
from rhoconnect_mock.faults.network import delay_seconds
from test_faults_support import CID, Rc

EMPTY_PAGE = b'[{"version":3},{"token":""},{"count":0},{"progress_count":0},{"total_count":25},{}]'


@pytest.fixture
def rc(rhoconnect_mock: MockServer) -> Rc:
    return Rc(rhoconnect_mock.base_url)


def raw_get(server: MockServer, rc: Rc, path: str) -> tuple[bytes, BaseException | None]:
    """Send one GET over a plain socket; every byte received, and the error that ended it."""
    cookie = "; ".join(f"{c.name}={c.value}" for c in rc.http.cookies)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n{CID}: {rc.client_id}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    received = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except OSError as exc:
            return received, exc
    return received, None


def test_fixed_delay_makes_a_short_client_timeout_fire(rhoconnect_mock: MockServer, rc: Rc) -> None:
    rhoconnect_mock.fail("query", "delay", seconds=0.6, times=1)
    with pytest.raises(requests.exceptions.ReadTimeout):
        rc.query(p_size=0, timeout=0.2)
    assert rc.query(p_size=0).content == EMPTY_PAGE  # once: no delay now
    rhoconnect_mock.fail("query", "delay", seconds=0.3, times=1)
    started = time.monotonic()
    assert rc.query(p_size=0).content == EMPTY_PAGE
    assert time.monotonic() - started >= 0.3


def test_random_delay_is_seeded_and_within_bounds() -> None:
    rule_a = parse_rule({"action": {"type": "delay", "min": 0.1, "max": 0.9, "seed": 42}})
    rule_b = parse_rule({"action": {"type": "delay", "min": 0.1, "max": 0.9, "seed": 42}})
    draws_a = [delay_seconds(rule_a) for _ in range(20)]
    assert draws_a == [delay_seconds(rule_b) for _ in range(20)]
    assert all(0.1 <= d <= 0.9 for d in draws_a) and len(set(draws_a)) == 20


def test_random_delay_over_http(rhoconnect_mock: MockServer, rc: Rc) -> None:
    rhoconnect_mock.fail("query", "delay", min=0.2, max=0.25, seed=1, times=1)
    started = time.monotonic()
    assert rc.query(p_size=0).content == EMPTY_PAGE
    assert time.monotonic() - started >= 0.2


def test_trickle_delivers_the_whole_body_slowly(rhoconnect_mock: MockServer, rc: Rc) -> None:
    rhoconnect_mock.fail("query", "trickle", chunk_size=10, interval=0.02, times=1)
    started = time.monotonic()
    received, error = raw_get(rhoconnect_mock, rc, "/app/v1/Product?p_size=0")
    elapsed = time.monotonic() - started
    head, _, body = received.partition(b"\r\n\r\n")
    assert error is None and body == EMPTY_PAGE
    assert f"Content-Length: {len(EMPTY_PAGE)}".encode() in head
    assert elapsed >= (len(EMPTY_PAGE) // 10) * 0.02  # one pause between chunks


def test_reset_before_headers(rhoconnect_mock: MockServer, rc: Rc) -> None:
    rhoconnect_mock.fail_flag("query:reset:once")
    with pytest.raises(requests.exceptions.ConnectionError) as info:
        rc.query(p_size=0)
    assert isinstance(info.value.args[0].args[1], ConnectionResetError)
    rhoconnect_mock.fail_flag("query:reset:once")
    received, error = raw_get(rhoconnect_mock, rc, "/app/v1/Product?p_size=0")
    assert received == b"" and isinstance(error, ConnectionResetError)
    # the server is unharmed
    assert rc.query(p_size=0).content == EMPTY_PAGE
    assert rhoconnect_mock.mock_errors() == []


def test_reset_after_headers(rhoconnect_mock: MockServer, rc: Rc) -> None:
    rhoconnect_mock.fail("query", "reset", at="after_headers", times=1)
    received, error = raw_get(rhoconnect_mock, rc, "/app/v1/Product?p_size=0")
    assert isinstance(error, ConnectionResetError)
    head, sep, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and sep and body == b""
    assert f"Content-Length: {len(EMPTY_PAGE)}".encode() in head
    rhoconnect_mock.fail("query", "reset", at="after_headers", times=1)
    with pytest.raises(requests.exceptions.ChunkedEncodingError) as info:
        rc.query(p_size=0)
    assert "Connection reset by peer" in str(info.value)


def test_truncated_body_with_the_full_content_length(rhoconnect_mock: MockServer, rc: Rc) -> None:
    rhoconnect_mock.fail("query", "truncate", bytes=10, times=1)
    received, error = raw_get(rhoconnect_mock, rc, "/app/v1/Product?p_size=0")
    head, _, body = received.partition(b"\r\n\r\n")
    assert error is None  # an orderly close (FIN), just too early
    assert f"Content-Length: {len(EMPTY_PAGE)}".encode() in head
    assert body == EMPTY_PAGE[:10]
    rhoconnect_mock.fail("query", "truncate", times=1)  # default: half the body
    with pytest.raises(requests.exceptions.ChunkedEncodingError) as info:
        rc.query(p_size=0)
    half = len(EMPTY_PAGE) // 2
    assert f"IncompleteRead({half} bytes read, {len(EMPTY_PAGE) - half} more expected)" in str(info.value)


def test_truncate_to_zero_bytes_still_sends_the_headers(rhoconnect_mock: MockServer, rc: Rc) -> None:
    rhoconnect_mock.fail("query", "truncate", bytes=0, times=1)
    received, error = raw_get(rhoconnect_mock, rc, "/app/v1/Product?p_size=0")
    head, sep, body = received.partition(b"\r\n\r\n")
    assert error is None and head.startswith(b"HTTP/1.1 200 OK") and sep and body == b""


def test_network_faults_leave_the_server_healthy(rhoconnect_mock: MockServer, rc: Rc) -> None:
    for flag in ("query:reset", "query:reset-after-headers", "query:truncate=5"):
        rhoconnect_mock.fail_flag(flag + ":3")
        for _ in range(3):
            with pytest.raises(requests.exceptions.RequestException):
                rc.query(p_size=0)
    pages = [rc.query(p_size=0).content for _ in range(20)]
    assert pages == [EMPTY_PAGE] * 20
    assert rhoconnect_mock.mock_errors() == []
    assert all(rule["exhausted"] for rule in rhoconnect_mock.faults())
