"""Fixtures of the client's unit tests: the real mock server, reset before each test.

A test module that talks to a server sets ``SERVER_DATA`` (the records the server holds for
every user; ``SERVER_OPTIONS`` may add mock config keys) and takes the ``server`` fixture (a fresh
``MockServer``) and, to act while a request is in flight, ``gates``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from live_mock import Gates, mock_config
from rhoconnect_mock import MockServer


@pytest.fixture(scope="module")
def live_mock(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[MockServer, Gates]]:
    data = getattr(request.module, "SERVER_DATA", None)
    if data is None:
        raise pytest.UsageError(f"{request.module.__name__} needs SERVER_DATA to use the mock server")
    options = getattr(request.module, "SERVER_OPTIONS", {})
    server = MockServer(mock_config(data, tmp_path_factory.mktemp("mock"), **options))
    gates = Gates(server.app)
    with server:
        yield server, gates


@pytest.fixture
def server(live_mock: tuple[MockServer, Gates]) -> Iterator[MockServer]:
    """The module's mock server with fresh state: its data, no clients, no rules, empty journal.

    Fails the test when the mock raised an unexpected error while handling one of its requests:
    a bug in the mock must not pass for a client bug.
    """
    mock, gates = live_mock
    mock.reset()
    yield mock
    gates.reset()
    errors = mock.mock_errors()
    assert not errors, f"the mock raised while handling requests: {errors}"


@pytest.fixture
def gates(live_mock: tuple[MockServer, Gates], server: MockServer) -> Gates:
    return live_mock[1]
