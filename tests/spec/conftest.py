"""Fixtures of the conformance suite: which server is tested, a logged-in session, a client id.

By default the embedded mock (``MockServer``) is started for the session. To test a real
RhoConnect server give ``--rhoconnect-url`` (and ``--rhoconnect-login``/``--rhoconnect-password``),
options registered by the repository's root conftest, or set ``RHOCONNECT_URL`` (and
``RHOCONNECT_LOGIN``/``RHOCONNECT_PASSWORD``) in the environment.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests


@dataclass
class Target:
    """The server under test and a session that is logged in and owns ``client_id``."""

    base_url: str
    login: str
    password: str
    session: requests.Session
    client_id: str
    is_mock: bool


def _option(config: pytest.Config, name: str) -> str | None:
    try:
        value = config.getoption(name)
    except ValueError:  # the option is not registered (suite run on its own)
        return None
    return None if value is None else str(value)


def _settings(config: pytest.Config) -> tuple[str | None, str, str]:
    """URL, login and password: the pytest options win; the environment is read without them."""
    cli_url = _option(config, "--rhoconnect-url")
    if cli_url:
        login = _option(config, "--rhoconnect-login") or "alice"
        password = _option(config, "--rhoconnect-password") or "secret"
        return cli_url, login, password
    env = os.environ
    login = env.get("RHOCONNECT_LOGIN") or _option(config, "--rhoconnect-login") or "alice"
    password = env.get("RHOCONNECT_PASSWORD") or _option(config, "--rhoconnect-password") or "secret"
    return env.get("RHOCONNECT_URL") or None, login, password


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
def rhoconnect_target(pytestconfig: pytest.Config) -> Iterator[Target]:
    """A logged-in session and client id on the server under test (the embedded mock by default)."""
    url, login, password = _settings(pytestconfig)
    if url:
        base = url.rstrip("/")
        base = base.removesuffix("/application")  # accept the classic application URL too
        http = logged_in_session(base, login, password)
        yield Target(base, login, password, http, new_client_id(http, base), is_mock=False)
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
