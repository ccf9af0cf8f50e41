"""Fixtures of the conformance features: which server, a fresh world per scenario, reports.

Without ``--rhoconnect-url`` (options registered in ``tests/conftest.py``) one embedded
``MockServer`` serves the whole session and is reset through its admin API before every scenario.
With it and ``--rhoconnect-admin-url`` (a mock started separately), the same happens through that
mock's admin API. With ``--rhoconnect-url`` alone the scenarios run against that server and those
tagged ``@mock_control`` are skipped with a reason. Every tag the features may use is registered
here as a marker (the vocabulary comes from the seed, see ``feature_coverage.known_tags``), so a
misspelt tag fails the run.
"""

from __future__ import annotations

import html
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

# Step modules are plain modules: ask pytest to rewrite their asserts for readable failures.
pytest.register_assert_rewrite("steps_app", "steps_notify", "steps_search", "steps_server", "world")

from cucumber_skips import SkipLog  # noqa: E402
from feature_coverage import known_tags, load_seed  # noqa: E402
from server_settings import ServerSettings, settings_of  # noqa: E402
from steps_app import *  # noqa: E402, F403  (step definitions are fixtures: they must be visible here)
from steps_notify import *  # noqa: E402, F403
from steps_search import *  # noqa: E402, F403
from steps_server import *  # noqa: E402, F403
from targets import MOCK_CONFIG, MockTarget, RealTarget, Target  # noqa: E402
from world import World  # noqa: E402

HERE = Path(__file__).parent
TAGS = known_tags(load_seed())
SKIPS = pytest.StashKey[SkipLog]()


def pytest_configure(config: pytest.Config) -> None:
    for tag, description in TAGS.items():
        config.addinivalue_line("markers", f"{tag}: {description}")
    config.stash[SKIPS] = SkipLog()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    settings = settings_of(config)
    uncontrolled = settings.url if settings.admin_url is None else None
    for item in items:
        if HERE not in Path(str(item.path)).parents:
            continue
        tags = sorted(m.name for m in item.iter_markers() if m.name in TAGS)
        doc = (getattr(item, "obj", None).__doc__ or "") if hasattr(item, "obj") else ""
        # pytest-bdd names the test "<feature file>: <scenario>"; keep the path below features/.
        feature = doc.split(": ", 1)[0] if ": " in doc else ""
        feature = feature.split("/features/", 1)[-1]
        if feature:
            item.user_properties.append(("feature", feature))
        if tags:
            item.user_properties.append(("tags", " ".join(f"@{t}" for t in tags)))
        # Scenarios that turn certificate checking off expect urllib3's warning about it.
        item.add_marker(pytest.mark.filterwarnings("ignore:Unverified HTTPS request"))
        if uncontrolled and "mock_control" in tags:
            item.add_marker(
                pytest.mark.skip(
                    reason="@mock_control: needs a mock's admin API (--rhoconnect-admin-url), "
                    f"not {uncontrolled}"
                )
            )


@pytest.fixture(scope="session")
def bdd_target(server_settings: ServerSettings) -> Iterator[Target]:
    """The server of this run: ``--rhoconnect-url`` (steered with an admin URL), else an embedded mock."""
    login, password = server_settings.login, server_settings.password
    if server_settings.base_url and server_settings.admin_url:
        yield MockTarget(
            server_settings.base_url, server_settings.admin_url, login, password, server_settings.admin_token
        )
        return
    if server_settings.base_url:
        yield RealTarget(
            server_settings.base_url,
            login,
            password,
            sources=server_settings.sources,
            allow_unknown_sources=server_settings.allow_unknown_sources,
        )
        return
    from rhoconnect_mock import MockServer  # the mock is only needed when no URL is given

    with MockServer(config=MOCK_CONFIG) as server:
        yield MockTarget(server.base_url, server.base_url + "/_mock", login, password)


@pytest.fixture
def world(bdd_target: Target, tmp_path: Path) -> Iterator[World]:
    """A fresh scenario: server state reset (on the mock), no app yet."""
    bdd_target.reset()
    w = World(target=bdd_target, tmp_path=tmp_path, server_url=bdd_target.url)
    try:
        yield w
    finally:
        w.close()


# ------------------------------------------------------------------------------------ reports


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.skipped and SKIPS in item.config.stash:
        item.config.stash[SKIPS].note(item, report)
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Before pytest-bdd writes ``--cucumberjson``: the skipped scenarios into it, with their reason."""
    cucumber = getattr(session.config, "_bddcucumberjson", None)
    if cucumber is not None and SKIPS in session.config.stash:
        session.config.stash[SKIPS].write_into(cucumber.features)


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_header(cells: list[str]) -> None:
    cells.insert(1, "<th>Feature</th>")
    cells.insert(2, "<th>Tags</th>")


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_row(report: Any, cells: list[str]) -> None:
    props = dict(getattr(report, "user_properties", []))
    cells.insert(1, f"<td>{html.escape(str(props.get('feature', '')))}</td>")
    cells.insert(2, f"<td>{html.escape(str(props.get('tags', '')))}</td>")
