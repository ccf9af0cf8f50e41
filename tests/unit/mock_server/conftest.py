"""Fixtures for the mock server's own tests: live servers and a small protocol client.

``mock`` starts a ``MockServer`` for a config (fresh per call, stopped after the test); ``rc``
is a logged-in protocol client against the default server. The client speaks raw HTTP with
``requests`` so every test checks exactly what goes over the wire.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from mock_rc import RC
from rhoconnect_mock import MockServer

BROKEN_AND_FIXED: dict[str, Any] = {
    "sources": {
        "Product": {"generator": "sequence"},
        "Broken": {"records": 3, "attributes": ["name", "qty"], "generator": "sequence"},
        "Fixed": {
            "records": 4,
            "generator": "sequence",
            "schema": {
                "version": "1.0",
                "property": {"name": "string", "price": "float", "qty": "integer"},
                "index": {"by_name": "name"},
            },
            "metadata": {"title": "Fixed items", "schema_version": "1.0"},
        },
    }
}


@pytest.fixture
def mock() -> Iterator[Callable[..., MockServer]]:
    """Factory: ``mock(config)`` gives a started server, stopped after the test."""
    started: list[MockServer] = []

    def start(config: Mapping[str, Any] | None = None) -> MockServer:
        server = MockServer(config)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(mock: Callable[..., MockServer]) -> MockServer:
    """A server with the transcript-shaped demo data plus the Broken and Fixed sources."""
    return mock(BROKEN_AND_FIXED)


@pytest.fixture
def rc(server: MockServer) -> RC:
    """A logged-in client with a client id, against ``server``."""
    client = RC(server)
    assert client.login().status_code == 200
    client.create_client()
    return client
