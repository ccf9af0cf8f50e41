"""Options shared by every suite: which RhoConnect server the conformance tests talk to.

Without ``--rhoconnect-url`` the suites use the embedded mock server; with it they run against
that server and skip what needs the mock's admin API.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rhoconnect", "RhoConnect server under test")
    group.addoption(
        "--rhoconnect-url",
        default=None,
        help="base URL of a real RhoConnect server (e.g. http://127.0.0.1:9292); default: the embedded mock",
    )
    group.addoption("--rhoconnect-login", default="alice", help="login for --rhoconnect-url (default: alice)")
    group.addoption(
        "--rhoconnect-password", default="secret", help="password for --rhoconnect-url (default: secret)"
    )
    parser.addoption(
        "--crash-seed",
        type=int,
        default=None,
        help="seed of the kill moments of the client crash tests (default: a new one, printed by each)",
    )


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
