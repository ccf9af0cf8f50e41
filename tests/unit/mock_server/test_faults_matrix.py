"""One rule, four channels: a scenario file, a ``--fail`` flag, the admin API and Python behave alike.

Each case is written once per channel; the test runs the same client exchange against a fresh
server per channel and requires the same observations from all four, equal to the expected ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from rhoconnect_mock import MockServer
from rhoconnect_mock.cli import build_config
from test_faults_support import Rc

Observe = Callable[[MockServer], list[Any]]


def statuses(n: int) -> Observe:
    def observe(server: MockServer) -> list[Any]:
        rc = Rc(server.base_url)
        return [rc.query(p_size=0).status_code for _ in range(n)]

    return observe


def outcomes(n: int) -> Observe:
    def observe(server: MockServer) -> list[Any]:
        rc = Rc(server.base_url)
        seen: list[Any] = []
        for _ in range(n):
            try:
                seen.append(rc.query(p_size=0).status_code)
            except requests.exceptions.ConnectionError as exc:
                seen.append(type(exc.args[0].args[1]).__name__)
        return seen

    return observe


def create_error(server: MockServer) -> list[Any]:
    rc = Rc(server.base_url)
    rc.push(create={"t1": {"name": "Pen"}})
    first = rc.query(p_size=1).json()[5].get("create-error")
    rc.push(create={"t2": {"name": "Ink"}})
    second = rc.query(p_size=1).json()[5].get("create-error")
    return [first, second]


def first_elements(server: MockServer) -> list[Any]:
    rc = Rc(server.base_url)
    bob = Rc(server.base_url, "bob")
    return [rc.query(p_size=1).json()[0], bob.query(p_size=1).json()[0]]


@dataclass
class Case:
    name: str
    flag: str
    rule: dict[str, Any]
    python: dict[str, Any]
    observe: Observe
    expected: list[Any]


CASES = [
    Case(
        "status once",
        "query:500:once",
        {"match": {"operation": "query"}, "times": 1, "action": {"type": "status", "status": 500}},
        {"operation": "query", "status": 500, "times": 1},
        statuses(3),
        [500, 200, 200],
    ),
    Case(
        "nth",
        "query:503:nth=2",
        {"match": {"operation": "query"}, "when": {"nth": 2}, "action": {"type": "status", "status": 503}},
        {"operation": "query", "status": 503, "nth": 2},
        statuses(4),
        [200, 503, 200, 200],
    ),
    Case(
        "reset every 2nd",
        "query:reset:every=2",
        {"match": {"operation": "query"}, "when": {"every": 2}, "action": {"type": "reset"}},
        {"operation": "query", "action": "reset", "every": 2},
        outcomes(4),
        [200, "ConnectionResetError", 200, "ConnectionResetError"],
    ),
    Case(
        "create error once",
        "cud:create-error=duplicate:once",
        {
            "match": {"operation": "cud"},
            "times": 1,
            "action": {"type": "adapter_error", "stage": "create", "message": "duplicate"},
        },
        {"operation": "cud", "action": "create-error", "message": "duplicate", "times": 1},
        create_error,
        [{"t1": {"name": "Pen"}, "t1-error": {"message": "duplicate"}}, None],
    ),
    Case(
        "user and source",
        "query/Product@bob:wrong-version=7",
        {
            "match": {"operation": "query", "source": "Product", "user": "bob"},
            "action": {"type": "wrong_version", "version": 7},
        },
        {"operation": "query", "source": "Product", "user": "bob", "action": "wrong_version", "version": 7},
        first_elements,
        [{"version": 3}, {"version": 7}],
    ),
]
CHANNELS = ["file", "flag", "admin", "python"]
COUNTERS = ("id", "hits", "fired", "exhausted")


def server_for(channel: str, case: Case, tmp_path: Path) -> MockServer:
    if channel == "file":
        path = tmp_path / "scenario.yaml"
        path.write_text(yaml.safe_dump({"faults": [case.rule]}))
        return MockServer(build_config({"scenario": str(path)}, {}))
    if channel == "flag":
        return MockServer(build_config({"fail": (case.flag,)}, {}))
    return MockServer()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_channel_behaves_the_same(case: Case, tmp_path: Path) -> None:
    seen: dict[str, list[Any]] = {}
    rules: dict[str, dict[str, Any]] = {}
    for channel in CHANNELS:
        with server_for(channel, case, tmp_path) as server:
            if channel == "admin":
                response = requests.post(server.admin_url + "faults", json=case.rule, timeout=10)
                assert response.status_code == 201, response.text
            elif channel == "python":
                server.fail(**case.python)
            seen[channel] = case.observe(server)
            [described] = server.faults()
            rules[channel] = {k: v for k, v in described.items() if k not in COUNTERS}
    assert seen == {channel: case.expected for channel in CHANNELS}
    assert all(rule == rules["file"] for rule in rules.values()), rules
