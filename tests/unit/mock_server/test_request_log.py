"""The console request log of ``rhoconnect-mock serve``: one line per request, over real HTTP."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Callable

import pytest
import requests
from test_faults_support import Rc

PASSWORD = "s3cret-pw-1234"
BANNER_END = "Press Ctrl+C to stop."


def run_serve(*args: str, traffic: Callable[[str], None]) -> list[str]:
    """Start ``serve`` with ``args``, run ``traffic(base_url)``, stop it; the lines after the banner."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "from rhoconnect_mock.cli import main; main()", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner: list[str] = []
        while not banner or banner[-1] != BANNER_END:
            banner.append(proc.stdout.readline().rstrip("\n"))
        base = banner[1].split()[-1]
        traffic(base)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    return out.splitlines()


def sync(base: str) -> None:
    rc = Rc(base, login="alice", password=PASSWORD)
    assert rc.query(p_size=2).status_code == 500  # the start-up rule
    with pytest.raises(requests.exceptions.ConnectionError):
        rc.query(p_size=2)  # the reset rule
    assert rc.query(p_size=2).status_code == 200
    assert requests.get(base + "/_mock/journal", timeout=10).status_code == 200  # admin: not logged


def test_text_lines_name_who_did_what_and_what_came_back() -> None:
    lines = run_serve("--fail", "query:500:once", "--fail", "query:reset:nth=2", traffic=sync)
    assert len(lines) == 5, lines  # login, client create, three queries
    login, create, failed, reset, ok = (line.split() for line in lines)
    # TIME USER CLIENT OPERATION SOURCE METHOD PATH -> STATUS BYTES MS [fault=...] [outcome]
    assert login[1:4] == ["alice", "-", "login"] and login[6:9] == ["/rc/v1/app/login", "->", "200"]
    client_id = failed[2]
    assert create[2:4] == [client_id, "clientcreate"]  # the id the server just issued
    assert failed[1:5] == ["alice", client_id, "query", "Product"] and len(client_id) > 8
    assert failed[8:] == ["500", failed[9], failed[10], "fault=rule-1:status"]
    assert failed[9].endswith("B") and failed[10].endswith("ms")
    assert reset[8:] == ["---", "0B", reset[10], "fault=rule-2:reset", "reset_before_headers"]
    assert ok[8] == "200" and int(ok[9][:-1]) > 100 and "fault=" not in " ".join(ok)
    assert PASSWORD not in "\n".join(lines) and "rhoconnect_session" not in "\n".join(lines)


def test_json_lines_for_machines() -> None:
    def traffic(base: str) -> None:
        Rc(base, password=PASSWORD).query(p_size=1)

    records = [json.loads(line) for line in run_serve("--log-format", "json", traffic=traffic)]
    assert [r["operation"] for r in records] == ["login", "clientcreate", "query"]
    query = records[-1]
    assert set(query) == {
        "time",
        "user",
        "client_id",
        "operation",
        "source",
        "method",
        "path",
        "status",
        "bytes",
        "ms",
        "faults",
        "outcome",
    }
    assert (query["user"], query["source"], query["status"], query["faults"]) == ("alice", "Product", 200, [])
    assert query["bytes"] > 0 and query["ms"] >= 0 and query["time"].endswith("Z")
    assert PASSWORD not in json.dumps(records)


def test_quiet_logs_nothing() -> None:
    assert run_serve("--quiet", traffic=lambda base: Rc(base).query().raise_for_status()) == []


def test_answers_the_server_gives_itself_are_logged_too() -> None:
    def traffic(base: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"GET /rc/v1/app/login HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 4096 + b"\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 431 ")

    lines = run_serve("--max-header-size", "2048", traffic=traffic)
    assert len(lines) == 1, lines
    # TIME USER CLIENT OPERATION SOURCE METHOD PATH -> STATUS BYTES MS
    assert lines[0].split()[1:9] == ["-", "-", "other", "-", "GET", "/rc/v1/app/login", "->", "431"]
