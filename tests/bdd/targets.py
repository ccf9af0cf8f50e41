"""The server a conformance run talks to: the embedded mock, or any RhoConnect server by URL.

``Target`` is what step definitions use to learn what the server holds and, on the mock only,
to steer it. ``MockTarget`` drives the embedded ``MockServer`` through its public helpers and its
admin API; ``RealTarget`` can only read, through the sync protocol itself (its own login and
client, pages acknowledged until the end), so data-dependent steps compare against what the
server really holds. Steering a real server raises ``NeedsMockControl``; scenarios that steer are
tagged ``@mock_control`` and skipped before they get there.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

import requests

Records = dict[str, dict[str, str]]

#: The mock's data for the features: small, so the whole suite stays fast.
MOCK_CONFIG: dict[str, Any] = {
    "seed": 5,
    "bulk_wait_polls": 1,
    "sources": {
        "Product": {"partition": "user", "priority": 1, "records": 25},
        "Customer": {
            "partition": "user",
            "priority": 2,
            "records": 4,
            "attributes": ["name", "brand", "city"],
        },
        "Inventory": {
            "partition": "user",
            "priority": 3,
            "records": 3,
            "attributes": ["name", "quantity"],
            "schema": {"version": "1.0", "property": {"name": "string", "quantity": "string"}},
        },
    },
}


class NeedsMockControl(RuntimeError):
    """A step tried to steer a server that is not the embedded mock."""


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

    @abstractmethod
    def records(self, source: str, user: str | None = None) -> Records:
        """What the server holds for ``source`` and ``user`` (default: the configured login)."""

    def mock(self) -> MockTarget:
        """The embedded mock, for steps that steer it; other servers cannot be steered."""
        raise NeedsMockControl("this step needs the embedded mock server (@mock_control)")


class RealTarget(Target):
    """Any RhoConnect server, read through the REST protocol routes like a new client would."""

    def __init__(self, base_url: str, login: str, password: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        if self.base_url.endswith("/application"):
            self.base_url = self.base_url[: -len("/application")]
        self.url = self.base_url + "/application"
        self.login = login
        self.password = password
        self.timeout = timeout

    def records(self, source: str, user: str | None = None) -> Records:
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
    """The embedded mock server (one per test session, reset before every scenario)."""

    is_mock = True

    def __init__(self, server: Any, login: str, password: str) -> None:
        self.server = server
        self.url = server.url
        self.base_url = server.base_url
        self.login = login
        self.password = password

    def mock(self) -> MockTarget:
        return self

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """Call the mock's admin API (``/_mock/...``) and return its JSON answer."""
        answer = requests.request(method, f"{self.base_url}/_mock/{path.lstrip('/')}", json=body, timeout=30)
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
