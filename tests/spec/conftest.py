"""Fixtures of the conformance suite: which server is tested, a logged-in session, a client id.

By default the embedded mock (``MockServer``) is started for the session. To test another server
give ``--rhoconnect-url`` (and ``--rhoconnect-login``/``--rhoconnect-password``), options
registered by the repository's root conftest, or set ``RHOCONNECT_URL`` (and
``RHOCONNECT_LOGIN``/``RHOCONNECT_PASSWORD``) in the environment. A mock started separately is
named by ``--rhoconnect-admin-url`` too; a server without one is only sent the source names of
``--rhoconnect-sources`` unless ``--rhoconnect-allow-unknown-sources`` is given (``Target.source``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests
from server_settings import ServerSettings


@dataclass
class Target:
    """The server under test and a session that is logged in and owns ``client_id``."""

    base_url: str
    login: str
    password: str
    session: requests.Session
    client_id: str
    is_mock: bool
    #: Source names a request may carry on this server; ``None``: any name (a mock, or opted in).
    known_sources: tuple[str, ...] | None = None
    _turn: Iterator[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._turn = itertools.cycle(self.known_sources or ("Product",))

    def source(self, name: object) -> object:
        """``name`` if this server may be asked about it, else one of its known sources."""
        if self.known_sources is None or name in self.known_sources or not isinstance(name, str):
            return name
        return next(self._turn)


def logged_in_session(base_url: str, login: str, password: str) -> requests.Session:
    http = requests.Session()
    r = http.post(base_url + "/rc/v1/app/login", json={"login": login, "password": password}, timeout=30)
    if r.status_code != 200:
        pytest.fail(f"login as {login!r} at {base_url} failed: {r.status_code} {r.text!r}")
    return http


def new_client_id(http: requests.Session, base_url: str) -> str:
    r = http.post(base_url + "/rc/v1/clients", json={}, timeout=30)
    r.raise_for_status()
    return str(r.json()["client"]["client_id"])


@pytest.fixture(scope="session")
def rhoconnect_target(server_settings: ServerSettings) -> Iterator[Target]:
    """A logged-in session and client id on the server under test (the embedded mock by default)."""
    base, login, password = server_settings.base_url, server_settings.login, server_settings.password
    if base:
        is_mock = server_settings.admin_url is not None
        known = None if is_mock or server_settings.allow_unknown_sources else server_settings.sources
        http = logged_in_session(base, login, password)
        yield Target(base, login, password, http, new_client_id(http, base), is_mock, known)
        return
    from rhoconnect_mock import MockServer

    config = {
        "sources": {
            "Product": {"partition": "user", "priority": 1, "records": 25},
            "Fixed": {
                "partition": "user",
                "priority": 2,
                "records": 4,
                "attributes": ["name", "qty"],
                "schema": {
                    "version": "1.0",
                    "property": {"name": "string", "price": "string", "qty": "string"},
                },
                "metadata": {"title": "Fixed items"},
            },
            "Catalog": {"partition": "app", "priority": 1, "records": 5},
        },
        "bulk_wait_polls": 1,
    }
    with MockServer(config) as server:
        http = logged_in_session(server.base_url, login, password)
        yield Target(
            server.base_url, login, password, http, new_client_id(http, server.base_url), is_mock=True
        )
