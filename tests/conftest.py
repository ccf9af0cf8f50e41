"""Options shared by every suite: which RhoConnect server the conformance tests talk to.

Without ``--rhoconnect-url`` the suites use the embedded mock server; with it they run against
that server, steer it through ``--rhoconnect-admin-url`` when it is a separately started mock,
and skip what needs the mock's admin API otherwise (``server_settings`` says more). The server
given is checked once before any test, so a wrong URL ends the run with one line.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest
from server_settings import ServerSettings, add_options, check_server, settings_of


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)
    parser.addoption(
        "--crash-seed",
        type=int,
        default=None,
        help="seed of the kill moments of the client crash tests (default: a new one, printed by each)",
    )


def pytest_configure(config: pytest.Config) -> None:
    problem = check_server(settings_of(config))
    if problem is not None:
        raise pytest.UsageError(problem)


@pytest.fixture(scope="session")
def server_settings(pytestconfig: pytest.Config) -> ServerSettings:
    """The server under test as the command line (or the environment) names it."""
    return settings_of(pytestconfig)


@pytest.fixture
def crash_seed(request: pytest.FixtureRequest) -> int:
    """The seed of a crash test's random kill moments: ``--crash-seed N``, else a fresh one.

    Printed, so that pytest shows it with a failure and the same moments can be asked for again.
    """
    given: int | None = request.config.getoption("--crash-seed")
    seed = given if given is not None else random.SystemRandom().randrange(2**32)
    print(f"crash seed: {seed} (rerun with --crash-seed {seed})")
    return seed


@pytest.fixture(scope="session")
def self_signed_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throw-away certificate and key for 127.0.0.1, made with the ``openssl`` command line.

    TLS verification is a requirement (``set_ssl_verify_peer``), so a missing ``openssl`` fails the
    tests that need it with a clear message instead of skipping them silently.
    """
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command line is needed to make a self-signed certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key
