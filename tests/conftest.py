"""Options shared by every suite: which RhoConnect server the conformance tests talk to.

Without ``--rhoconnect-url`` the suites use the embedded mock server; with it they run against
that server and skip what needs the mock's admin API.
"""

from __future__ import annotations

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
