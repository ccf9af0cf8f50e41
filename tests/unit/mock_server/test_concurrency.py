"""Many clients at once: every one ends with exactly the server's data, none is reset."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from mock_rc import RC
from rhoconnect_mock import MockServer, create_app
from rhoconnect_mock.journal import journal_of
from rhoconnect_mock.server import BacklogConnections, make_server


def _sync_many(server: MockServer, clients: int, users: int, p_size: int, change: bool) -> None:
    barrier = threading.Barrier(clients, timeout=60)
    results: dict[int, dict[str, dict[str, str]]] = {}
    sessions: dict[int, RC] = {}
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            rc = sessions[i] = RC(server)
            rc.login(f"user{i % users}")
            rc.create_client()
            barrier.wait()
            local: dict[str, dict[str, str]] = {}
            if change and i % 10 == 0:  # some clients push while others page
                local = {"1": {"name": f"by {i}"}, f"t{i}": {"name": f"new {i}"}}
                rc.push(update={"1": {"name": f"by {i}"}}, create={f"t{i}": {"name": f"new {i}"}})
            results[i] = rc.sync_all(p_size=p_size, local=local)
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    for i, local in results.items():
        if change:  # what others changed after this client's last page comes with one more sync
            local = sessions[i].sync_all(p_size=p_size, local=local)
        assert local == dict(server.state.records("Product", f"user{i % users}")), i


def test_more_keep_alive_clients_than_threads(mock: Callable[..., MockServer]) -> None:
    server = mock({"threads": 4, "sources": {"Product": {"records": 300}}})
    _sync_many(server, clients=30, users=3, p_size=50, change=False)


def test_concurrent_pushes_and_pages_converge(mock: Callable[..., MockServer]) -> None:
    server = mock({"sources": {"Product": {"records": 500}}})
    _sync_many(server, clients=20, users=2, p_size=70, change=True)
    # After everyone is done, one more sync per user converges on the final data.
    for user in ("user0", "user1"):
        rc = RC(server)
        rc.login(user)
        rc.create_client()
        assert rc.sync_all() == dict(server.state.records("Product", user))


@pytest.mark.slow
def test_fifty_clients_of_ten_thousand_records(mock: Callable[..., MockServer]) -> None:
    server = mock({"sources": {"Product": {"records": 10_000}}, "threads": 32})
    _sync_many(server, clients=50, users=5, p_size=2000, change=False)


# A reader of the records (admin API, tests) used to iterate the live dict while requests
# changed it: 500 "dictionary changed size during iteration".
def test_admin_records_read_while_the_backend_changes(mock: Callable[..., MockServer]) -> None:
    server = mock({"sources": {"Product": {"records": 5000}}})
    stop = threading.Event()

    def write() -> None:
        # The changes cycle through 100 ids: an ever-growing set would make each read slower
        # than the last (the reads, not the server, would decide how long the test runs).
        n = 0
        while not stop.is_set():
            n += 1
            oid = f"w{n % 100}"
            server.state.backend_insert("Product", "alice", oid, {"name": str(n)})
            if n % 2:
                server.state.backend_delete("Product", "alice", oid)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        answers = [
            requests.get(f"{server.base_url}/_mock/sources/Product/users/alice/records", timeout=30)
            for _ in range(10)
        ]
    finally:
        stop.set()
        writer.join()
    assert [a.status_code for a in answers] == [200] * 10
    for answer in answers:  # each read is one consistent state: its count is its records
        body = answer.json()
        assert 5000 <= body["count"] == len(body["records"]) <= 5100
    assert journal_of(server.app).errors() == []


def test_one_wake_up_takes_the_whole_listen_backlog() -> None:
    """Connections waiting in the backlog are all taken at once, in arrival order (cheroot took
    one per turn of its serve loop); an empty backlog ends the turn without waiting."""
    server = make_server(create_app(), "127.0.0.1", 0)
    server.prepare()  # bound and listening; the serve loop is not running, so nothing accepts
    taken: list[Any] = []
    try:
        manager = server._connections
        assert isinstance(manager, BacklogConnections)
        server.process_conn = taken.append  # type: ignore[method-assign,assignment]
        clients = [socket.create_connection(server.bind_addr, timeout=5) for _ in range(5)]
        ports = [c.getsockname()[1] for c in clients]
        last = manager._from_server_socket(server.socket)
        assert [c.remote_port for c in [*taken, last]] == ports
        started = time.monotonic()
        assert manager._from_server_socket(server.socket) is None
        assert time.monotonic() - started < 0.5  # cheroot's listen socket would block for 1 s
        for conn in [*taken, last]:
            conn.close()
        for c in clients:
            c.close()
    finally:
        server.stop()
