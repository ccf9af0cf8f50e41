"""Which RhoConnect server the conformance suites talk to, and a check that it is there.

The suites run against the embedded mock unless ``--rhoconnect-url`` names another server. That
server may be a mock started separately (in a container, a CI service): with
``--rhoconnect-admin-url`` (and ``--rhoconnect-admin-token`` when it was started with one) the
suites steer it through its admin API as they steer the embedded one, so every scenario runs.

A real RhoConnect server must not be harmed: every source name a request carries joins its
in-memory source list for good, after which its bulk jobs fail until it restarts. So against a
server without the admin API the suites request only the sources named by
``--rhoconnect-sources`` (default ``Product``), unless ``--rhoconnect-allow-unknown-sources``
says the server may be given invented ones.

``check_server`` runs once before any test: an unreachable or wrong URL ends the run with one
line saying what is wrong instead of a traceback per test.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass

import pytest
import requests

#: How long the start-up check waits for each answer.
CHECK_TIMEOUT = 10.0


@dataclass(frozen=True)
class ServerSettings:
    """What the command line (or the environment) says about the server under test."""

    url: str | None = None
    login: str = "alice"
    password: str = "secret"
    admin_url: str | None = None
    admin_token: str | None = None
    sources: tuple[str, ...] = ("Product",)
    allow_unknown_sources: bool = False

    @property
    def base_url(self) -> str | None:
        """The server root (the classic application URL is accepted too)."""
        if self.url is None:
            return None
        return self.url.rstrip("/").removesuffix("/application")


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("rhoconnect", "RhoConnect server under test")
    group.addoption(
        "--rhoconnect-url",
        default=None,
        help="base URL of a RhoConnect server (e.g. http://127.0.0.1:9292); default: the embedded mock",
    )
    group.addoption("--rhoconnect-login", default="alice", help="login for --rhoconnect-url (default: alice)")
    group.addoption(
        "--rhoconnect-password", default="secret", help="password for --rhoconnect-url (default: secret)"
    )
    group.addoption(
        "--rhoconnect-admin-url",
        default=None,
        help="admin API of a separately started rhoconnect-mock (e.g. http://127.0.0.1:9292/_mock): "
        "the scenarios that steer the server run against it too",
    )
    group.addoption(
        "--rhoconnect-admin-token",
        default=None,
        help="token of --rhoconnect-admin-url (the mock's --admin-token)",
    )
    group.addoption(
        "--rhoconnect-sources",
        default="Product",
        help="comma-separated sources the server has (default: Product); without the admin API, "
        "requests name only these",
    )
    group.addoption(
        "--rhoconnect-allow-unknown-sources",
        action="store_true",
        default=False,
        help="let the suites request invented source names from a server without the admin API "
        "(a real RhoConnect keeps each such name until it restarts, and its bulk jobs fail meanwhile)",
    )


def _option(config: pytest.Config, name: str) -> str | None:
    value = config.getoption(name, default=None)
    return None if value in (None, "") else str(value)


def settings_of(config: pytest.Config) -> ServerSettings:
    """The options win; without ``--rhoconnect-url`` the ``RHOCONNECT_*`` variables are read."""
    env = {} if _option(config, "--rhoconnect-url") else os.environ
    url = _option(config, "--rhoconnect-url") or env.get("RHOCONNECT_URL") or None
    admin_url = _option(config, "--rhoconnect-admin-url") or env.get("RHOCONNECT_ADMIN_URL") or None
    return ServerSettings(
        url=url,
        login=env.get("RHOCONNECT_LOGIN") or _option(config, "--rhoconnect-login") or "alice",
        password=env.get("RHOCONNECT_PASSWORD") or _option(config, "--rhoconnect-password") or "secret",
        admin_url=admin_url.rstrip("/") if admin_url else None,
        admin_token=_option(config, "--rhoconnect-admin-token") or env.get("RHOCONNECT_ADMIN_TOKEN") or None,
        sources=tuple(
            s.strip() for s in (_option(config, "--rhoconnect-sources") or "Product").split(",") if s.strip()
        ),
        allow_unknown_sources=bool(config.getoption("--rhoconnect-allow-unknown-sources", default=False)),
    )


def admin_headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def check_server(settings: ServerSettings) -> str | None:
    """Why the server (and admin API) given cannot be used, in one line; None when they can."""
    if settings.url is None:
        return "--rhoconnect-admin-url needs --rhoconnect-url" if settings.admin_url else None
    for flag, url in (("--rhoconnect-url", settings.url), ("--rhoconnect-admin-url", settings.admin_url)):
        if url is not None:
            parts = urllib.parse.urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                return f"{flag} {url!r} is not an http:// or https:// URL"
    base = settings.url.rstrip("/").removesuffix("/application")
    try:
        answer = requests.post(
            f"{base}/rc/v1/app/login",
            json={"login": settings.login, "password": settings.password},
            timeout=CHECK_TIMEOUT,
        )
    except requests.RequestException as exc:
        return f"cannot reach the RhoConnect server at {settings.url}: {_reason(exc)}"
    if answer.status_code == 401:
        return (
            f"the RhoConnect server at {settings.url} refused the login {settings.login!r} "
            f"({answer.status_code} {answer.text[:80]!r}); give --rhoconnect-login and --rhoconnect-password"
        )
    if answer.status_code != 200:
        return (
            f"{settings.url} does not answer like a RhoConnect server: "
            f"POST {urllib.parse.urlsplit(base).path}/rc/v1/app/login gave {answer.status_code}"
        )
    if settings.admin_url is not None:
        return _check_admin(settings.admin_url, settings.admin_token)
    return None


def _check_admin(admin_url: str, token: str | None) -> str | None:
    try:
        answer = requests.get(admin_url + "/", headers=admin_headers(token), timeout=CHECK_TIMEOUT)
    except requests.RequestException as exc:
        return f"cannot reach the mock's admin API at {admin_url}: {_reason(exc)}"
    if answer.status_code == 401:
        return f"the mock's admin API at {admin_url} refused the token: give --rhoconnect-admin-token"
    try:
        service = answer.json().get("service") if answer.status_code == 200 else None
    except ValueError:
        service = None
    if service != "rhoconnect-mock admin":
        return f"{admin_url} is not a rhoconnect-mock admin API (GET answered {answer.status_code})"
    return None


def _reason(exc: requests.RequestException) -> str:
    """The innermost cause of a connection failure, without the chain of wrappers."""
    if isinstance(exc, requests.Timeout):
        return f"no answer within {CHECK_TIMEOUT:g} s"
    cause: BaseException = exc
    while cause.__context__ is not None and not isinstance(cause, OSError | ConnectionError):
        cause = cause.__context__
    text = str(cause)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
        return "unknown host name"
    return text.split(": ", 1)[-1][:160] if text else type(exc).__name__
