"""``MockServer`` (threaded cheroot server, free port, socket in environ) and the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from flask import request
from rhoconnect_mock import MockServer, create_app
from rhoconnect_mock.cli import banner, cli, main
from rhoconnect_mock.config import MockConfig
from rhoconnect_mock.server import SOCKET_ENVIRON_KEY
from rhoconnect_mock.state import state_of


def test_mock_server_context_and_urls() -> None:
    with MockServer() as server:
        assert server.base_url.startswith("http://127.0.0.1:") and server.port > 0
        assert server.url == server.base_url + "/application"
        r = requests.post(server.url + "/clientlogin", json={"login": "a", "password": "b"})
        assert r.status_code == 200 and r.headers["Server"] == "rhoconnect-mock"
        assert server.state is state_of(server.app)
    with pytest.raises(requests.ConnectionError):
        requests.get(server.base_url + "/rc/v1/clients", timeout=2)


def test_socket_in_environ() -> None:
    app = create_app()
    seen: list[object] = []

    @app.get("/_probe")
    def probe() -> str:
        seen.append(request.environ.get(SOCKET_ENVIRON_KEY))
        return "ok"

    with MockServer(app=app) as server:
        assert requests.get(server.base_url + "/_probe").text == "ok"
    assert hasattr(seen[0], "getpeername")


def test_two_servers_are_independent() -> None:
    with MockServer() as a, MockServer({"sources": {"Product": {"records": 3}}}) as b:
        assert a.port != b.port
        assert len(a.state.records("Product", "x")) == 25 and len(b.state.records("Product", "x")) == 3


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["serve", "--bogus"], "No such option"),
        (["serve", "--records", "Product"], "--records"),
        (["serve", "--port", "x"], "--port"),
        (["serve", "--users", "/nonexistent/users.txt"], "--users"),
        (["serve", "--config", "/nonexistent/mock.toml"], "cannot read"),
        (["serve", "--data", "/nonexistent/data.json"], "data"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("Error: ") and needle in err
    assert "Traceback" not in err


def test_bad_config_key_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "m.yaml"
    cfg.write_text("sources:\n  Product:\n    partition: team\n")
    with pytest.raises(SystemExit) as info:
        main(["serve", "--config", str(cfg)])
    assert info.value.code == 2
    assert "sources.Product.partition" in capsys.readouterr().err


def test_banner_text() -> None:
    text = banner(MockConfig(users={"bob": "x", "alice": "y"}), "http://127.0.0.1:9292")
    assert "http://127.0.0.1:9292/application" in text and "users alice, bob" in text
    assert "http://127.0.0.1:9292/_mock/" in text
    assert "any non-empty login" in banner(MockConfig(), "http://h:1")
    assert "WARNING" in banner(MockConfig(host="0.0.0.0"), "http://0.0.0.0:1")


def test_help_lists_flags() -> None:
    out = CliRunner().invoke(cli, ["serve", "--help"]).output
    for flag in (
        "--host",
        "--port",
        "--config",
        "--seed",
        "--records",
        "--data",
        "--users",
        "--classic-resend",
    ):
        assert flag in out


def test_serve_end_to_end(tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text("# demo users\nalice:pw\n")
    env = {**os.environ, "RHOCONNECT_MOCK_SEED": "5"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from rhoconnect_mock.cli import main; main()",
            "serve",
            "--port",
            "0",
            "--records",
            "Product=40",
            "--users",
            str(users),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        base = lines[1].split()[-1]
        assert base.startswith("http://127.0.0.1:")
        s = requests.Session()
        assert (
            s.post(base + "/rc/v1/app/login", json={"login": "alice", "password": "bad"}).status_code == 401
        )
        assert s.post(base + "/rc/v1/app/login", json={"login": "alice", "password": "pw"}).status_code == 200
        cid = s.post(base + "/rc/v1/clients", json={}).json()["client"]["client_id"]
        page = s.get(base + "/app/v1/Product", params={"client_id": cid, "p_size": 100}).json()
        assert page[4] == {"total_count": 40}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        proc.communicate()  # reaps it and closes the pipes
    time.sleep(0)


def test_sigterm_stops_the_server_cleanly(tmp_path: Path) -> None:
    # SIGTERM is how services are stopped (kill, CI teardown, docker stop): the server must
    # shut down as on Ctrl-C and delete its temporary bulk folder, not die and leave it behind.
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from rhoconnect_mock.cli import main; main()", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        base = [proc.stdout.readline() for _ in range(3)][1].split()[-1]
        assert (
            requests.post(base + "/rc/v1/app/login", json={"login": "a", "password": "b"}).status_code == 200
        )
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith("rhoconnect-bulk-")]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()  # reaps it and closes the pipes
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("rhoconnect-bulk-")] == []


# cheroot's prepare() leaves the socket it made open when binding it fails; the process exits anyway.
@pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")
def test_port_in_use_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(SystemExit) as info:
            main(["serve", "--port", str(port), "--records", "Product=1"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"Error: cannot listen on 127.0.0.1:{port}")
    assert "taken" in err and "--port" in err
