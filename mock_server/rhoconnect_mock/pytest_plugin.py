"""The pytest plugin (entry point ``pytest11``): a running mock RhoConnect server per test.

* ``rhoconnect_mock``: function-scoped fixture, a started ``MockServer`` with fresh state (data
  as configured, no clients, no rules but the start-up ones, empty journal). One server runs
  for the whole session and is reset before each test, which keeps tests fast.
* ``rhoconnect_mock_config``: session-scoped fixture giving the server's config (``None``: the
  defaults); override it in a ``conftest.py`` to change sources, users, seed...
* ``@pytest.mark.rhoconnect_faults(...)``: fault rules installed before the test. Positional
  arguments are ``--fail`` strings (``"query:500:once"``) or rule dicts; keyword arguments are
  one ``server.fail(...)`` call (``operation="query", status=500, times=1``).
* A test fails when the mock raised an unexpected exception while handling one of its requests,
  even if the test's own assertions passed: a bug in the mock must not look like a client bug.

The mock is imported lazily so that installing the package costs other pytest runs nothing.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .server import MockServer

MARKER = "rhoconnect_faults"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*rules, **fail_kwargs): fault rules for the rhoconnect_mock fixture "
        "('query:500:once' strings, rule dicts, or MockServer.fail keyword arguments)",
    )


@pytest.fixture(scope="session")
def rhoconnect_mock_config() -> Any:
    """The config of the session's mock server (``None``: defaults). Override to customise."""
    return None


@pytest.fixture(scope="session")
def rhoconnect_mock_server(rhoconnect_mock_config: Any) -> Generator[MockServer, None, None]:
    """The one mock server of the session (use ``rhoconnect_mock`` for fresh state per test)."""
    from .server import MockServer

    server = MockServer(rhoconnect_mock_config)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def rhoconnect_mock(rhoconnect_mock_server: MockServer, request: pytest.FixtureRequest) -> MockServer:
    """A running mock server with fresh state and the test's ``rhoconnect_faults`` rules."""
    server = rhoconnect_mock_server
    server.reset()
    # Farthest marker first (module, class, then function), so the test's own rules come last.
    for marker in reversed(list(request.node.iter_markers(MARKER))):
        for rule in marker.args:
            if isinstance(rule, str):
                server.fail_flag(rule)
            elif isinstance(rule, Mapping):
                server.add_fault(rule)
            else:
                raise pytest.UsageError(f"{MARKER}: a rule is a '--fail' string or a dict, not {rule!r}")
        if marker.kwargs:
            server.fail(**marker.kwargs)
    return server


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    result = yield
    funcargs: dict[str, Any] = getattr(item, "funcargs", {})
    server = funcargs.get("rhoconnect_mock")
    if server is not None:
        errors = server.mock_errors()
        if errors:
            details = "\n\n".join(
                f"{e['method']} {e['path']} ({e['operation']}):\n{e['traceback']}" for e in errors
            )
            pytest.fail(
                f"the mock RhoConnect server raised {len(errors)} unexpected error(s):\n{details}",
                pytrace=False,
            )
    return result
