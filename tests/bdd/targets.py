"""The server a conformance run talks to: a mock (embedded or started separately) or any server.

``Target`` is what step definitions use to learn what the server holds and, on a mock only,
to steer it. ``MockTarget`` drives a mock through its admin API (the embedded ``MockServer``, or
one started with ``rhoconnect-mock serve`` and named by ``--rhoconnect-admin-url``); ``RealTarget``
can only read, through the sync protocol itself (its own login and client, pages acknowledged
until the end), so data-dependent steps compare against what the server really holds. Steering a
real server raises ``NeedsMockControl``; scenarios that steer are tagged ``@mock_control`` and
skipped before they get there. A real server is only asked about the sources it is known to
have (``may_request``): each invented source name would stay in its source list for good.
"""

from __future__ import annotations

import json
import tomllib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests

Records = dict[str, dict[str, str]]

#: The mock's data for the features (small, so the whole suite stays fast). A mock started
#: separately for the features is given the same file: ``rhoconnect-mock serve --config <it>``.
MOCK_CONFIG_FILE = Path(__file__).with_name("mock.toml")
MOCK_CONFIG: dict[str, Any] = tomllib.loads(MOCK_CONFIG_FILE.read_text(encoding="utf-8"))


class NeedsMockControl(RuntimeError):
    """A step tried to steer a server that is not a mock."""


class UnknownSource(RuntimeError):
    """A step would have named a source the real server is not known to have."""

    def __init__(self, source: str) -> None:
        super().__init__(
            f"source {source!r} is not among --rhoconnect-sources; a real RhoConnect would keep the "
            "name for good (--rhoconnect-allow-unknown-sources allows it)"
        )


class Target(ABC):
    """A server under test, as the steps see it."""

    #: The classic application URL the engine is given (``http://host:port/application``).
    url: str = ""
    base_url: str = ""
    login: str = "alice"
    password: str = "secret"
    is_mock: bool = False

    def reset(self) -> None:
        """Fresh server state for the next scenario (nothing to do on a real server)."""
        return None

    def may_request(self, source: str) -> bool:
        """Whether a request may name ``source`` (on a mock any name is harmless)."""
        return True

    @abstractmethod
    def records(self, source: str, user: str | None = None) -> Records:
        """What the server holds for ``source`` and ``user`` (default: the configured login)."""

    def mock(self) -> MockTarget:
        """The mock, for steps that steer it; other servers cannot be steered."""
        raise NeedsMockControl("this step needs a mock server with its admin API (@mock_control)")


class RealTarget(Target):
    """Any RhoConnect server, read through the REST protocol routes like a new client would."""

    def __init__(
        self,
        base_url: str,
        login: str,
        password: str,
        timeout: float = 30.0,
        sources: tuple[str, ...] = ("Product",),
        allow_unknown_sources: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/").removesuffix("/application")
        self.url = self.base_url + "/application"
        self.login = login
        self.password = password
        self.timeout = timeout
        self.sources = sources
        self.allow_unknown_sources = allow_unknown_sources

    def may_request(self, source: str) -> bool:
        return self.allow_unknown_sources or source in self.sources

    def records(self, source: str, user: str | None = None) -> Records:
        if not self.may_request(source):
            raise UnknownSource(source)
        with requests.Session() as http:
            answer = http.post(
                f"{self.base_url}/rc/v1/app/login",
                json={"login": user or self.login, "password": self.password, "remember_me": 1},
                timeout=self.timeout,
            )
            answer.raise_for_status()
            answer = http.post(f"{self.base_url}/rc/v1/clients", timeout=self.timeout)
            answer.raise_for_status()
            client_id = answer.json()["client"]["client_id"]
            return read_all_pages(http, f"{self.base_url}/app/v1/{source}", client_id, self.timeout)


def read_all_pages(http: requests.Session, url: str, client_id: str, timeout: float) -> Records:
    """Pull every page of one source, acknowledging each, and apply them like a client would."""
    records: Records = {}
    token = ""
    for _ in range(10_000):
        params = {"p_size": "1000", "version": "3", **({"token": token} if token else {})}
        answer = http.get(url, params=params, headers={"X-RhoConnect-CLIENT-ID": client_id}, timeout=timeout)
        answer.raise_for_status()
        page = answer.json()
        token = str(page[1].get("token", ""))
        commands: Mapping[str, Any] = page[-1] if isinstance(page[-1], Mapping) else {}
        for oid, attrs in commands.get("delete", {}).items():
            for attr in attrs:
                records.get(oid, {}).pop(attr, None)
            if oid in records and not records[oid]:
                del records[oid]
        for oid, attrs in commands.get("insert", {}).items():
            records.setdefault(oid, {}).update({k: str(v) for k, v in attrs.items()})
        if token == "":
            return records
    raise AssertionError(f"{url}: paging did not end")


class MockTarget(Target):
    """A mock server steered through its admin API (reset before every scenario)."""

    is_mock = True

    def __init__(
        self, base_url: str, admin_url: str, login: str, password: str, admin_token: str | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/").removesuffix("/application")
        self.url = self.base_url + "/application"
        self.admin_url = admin_url.rstrip("/")
        self.login = login
        self.password = password
        self.headers = {"Authorization": f"Bearer {admin_token}"} if admin_token else {}

    def mock(self) -> MockTarget:
        return self

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """Call the mock's admin API (``/_mock/...``) and return its JSON answer."""
        answer = requests.request(
            method, f"{self.admin_url}/{path.lstrip('/')}", json=body, headers=self.headers, timeout=30
        )
        assert answer.status_code < 300, f"admin {method} {path}: {answer.status_code} {answer.text}"
        return answer.json() if answer.content else None

    def reset(self) -> None:
        self.admin("POST", "reset")

    def records(self, source: str, user: str | None = None) -> Records:
        answer = self.admin("GET", f"sources/{source}/users/{user or self.login}/records")
        return {oid: dict(attrs) for oid, attrs in answer["records"].items()}

    def set_records(self, source: str, records: Records, user: str | None = None) -> None:
        self.admin("PUT", f"sources/{source}/users/{user or self.login}/records", {"records": records})

    def backend_change(self, source: str, change: dict[str, Any], user: str | None = None) -> None:
        """Insert, update or delete records as another system would (``/_mock/.../changes``)."""
        self.admin("POST", f"sources/{source}/users/{user or self.login}/changes", change)

    def add_fault(self, rule: dict[str, Any]) -> None:
        self.admin("POST", "faults", rule)

    def bump_schema(self, source: str) -> None:
        self.admin("POST", f"sources/{source}/schema_version", {})

    def journal(self, **filters: str) -> list[dict[str, Any]]:
        """Protocol requests the mock received, oldest first (admin calls are not recorded)."""
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        return list(self.admin("GET", "journal" + (f"?{query}" if query else ""))["entries"])

    def clear_journal(self) -> None:
        self.admin("DELETE", "journal")


def describe(records: Records) -> str:
    return json.dumps(records, sort_keys=True)[:2000]
