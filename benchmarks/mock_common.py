"""Helpers for the mock server benchmarks: run ``rhoconnect-mock serve`` in a subprocess and speak
the protocol with ``http.client`` (keep-alive, no third-party client in the measurement)."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import tarfile
import threading
import time
from io import BytesIO
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode


def start_server(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str, float]:
    """Start the CLI server on a free port (``env``: extra environment, e.g. ``RHOCONNECT_MOCK_*``
    settings); returns (process, base URL, start-up seconds)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from rhoconnect_mock.cli import main; main()", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    base = proc.stdout.readline().split()[-1]
    # The server logs a line per request on stdout: keep reading it, or a full pipe stops the server.
    threading.Thread(target=_drain, args=(proc.stdout,), daemon=True).start()
    return proc, base, time.perf_counter() - t0


def _drain(stream: IO[str]) -> None:
    for _ in stream:
        pass


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far; ``nan`` where ``/proc`` is missing.

    On a shared machine wall-clock figures move with the other users' load; the server's CPU
    time for the same work moves much less, so the benchmarks report both.
    """
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Client:
    """A minimal protocol client: login, client create, query pages with acknowledgement."""

    def __init__(self, base: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=120)
        self.cookie = ""
        self.client_id = ""
        #: GETs sent again because the server closed the keep-alive connection without answering.
        self.retries = 0

    def _request(
        self, method: str, path: str, body: Any = None
    ) -> tuple[int, bytes, http.client.HTTPResponse]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if method != "GET":
                raise
            # The server dropped an idle keep-alive connection (its socket timeout, under heavy
            # load): a query is safe to send again on a new one, as HTTP clients do.
            self.retries += 1
            self.conn.close()
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
        payload = resp.read()
        cookie = resp.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        return resp.status, payload, resp

    def login(self, login: str = "bench", password: str = "pw") -> None:
        status, _, _ = self._request("POST", "/rc/v1/app/login", {"login": login, "password": password})
        assert status == 200

    def create(self) -> None:
        status, payload, _ = self._request("POST", "/rc/v1/clients", {})
        assert status == 200
        self.client_id = json.loads(payload)["client"]["client_id"]

    def fetch_page(self, source: str, token: str | None, p_size: int) -> bytes:
        """One query answer's body (request sent, whole response read; not decoded)."""
        query = {"client_id": self.client_id, "p_size": p_size, "version": 3}
        if token:
            query["token"] = token
        status, payload, _ = self._request("GET", f"/app/v1/{source}?{urlencode(query)}")
        assert status == 200
        return payload

    def page(self, source: str, token: str | None, p_size: int) -> list[Any]:
        page: list[Any] = json.loads(self.fetch_page(source, token, p_size))
        return page


def apply(local: dict[str, dict[str, str]], page: list[Any]) -> None:
    """Apply a page like the Rhodes client (deletes then inserts, per attribute)."""
    cmds = page[5]
    for oid, attrs in cmds.get("delete", {}).items():
        obj = local.get(oid, {})
        for attr in attrs:
            obj.pop(attr, None)
        if not obj:
            local.pop(oid, None)
    for oid, attrs in cmds.get("insert", {}).items():
        local.setdefault(oid, {}).update(attrs)


def extract_tree(root: Path, rev: str, folder: str, dest: Path) -> str:
    """``folder`` (``client`` or ``mock_server``) of git revision ``rev`` of the checkout ``root``,
    extracted under ``dest`` (the baseline of a side-by-side run); returns the commit id."""
    commit = subprocess.run(
        ["git", "rev-parse", rev], cwd=root, capture_output=True, text=True, check=True
    ).stdout.strip()
    archive = subprocess.run(["git", "archive", commit, folder], cwd=root, capture_output=True, check=True)
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return commit


def run_child(script: str, pythonpath: Path, args: list[str], what: str) -> dict[str, Any]:
    """``script _child ARGS`` in a fresh interpreter importing from ``pythonpath``; returns the JSON
    object its last output line holds (a failing child raises with the end of its stderr)."""
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    out = subprocess.run(
        [sys.executable, script, "_child", *args], env=env, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"{what} child failed: {out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result
