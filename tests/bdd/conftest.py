"""Fixtures of the conformance features: which server, a fresh world per scenario, reports.

Without ``--rhoconnect-url`` (options registered in ``tests/conftest.py``) one embedded
``MockServer`` serves the whole session and is reset through its admin API before every scenario.
With it, the scenarios run against that server and those tagged ``@mock_control`` are skipped
with a reason. Every tag the features may use is registered here as a marker (the vocabulary comes
from the seed, see ``feature_coverage.known_tags``), so a misspelt tag fails the run.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Step modules are plain modules: ask pytest to rewrite their asserts for readable failures.
pytest.register_assert_rewrite("steps_app", "steps_notify", "steps_search", "steps_server", "world")

from feature_coverage import known_tags, load_seed  # noqa: E402
from steps_app import *  # noqa: E402, F403  (step definitions are fixtures: they must be visible here)
from steps_notify import *  # noqa: E402, F403
from steps_search import *  # noqa: E402, F403
from steps_server import *  # noqa: E402, F403
from targets import MOCK_CONFIG, MockTarget, RealTarget, Target  # noqa: E402
from world import World  # noqa: E402

HERE = Path(__file__).parent
TAGS = known_tags(load_seed())


def pytest_configure(config: pytest.Config) -> None:
    for tag, description in TAGS.items():
        config.addinivalue_line("markers", f"{tag}: {description}")


def _real_url(config: pytest.Config) -> str | None:
    url: str | None = config.getoption("--rhoconnect-url", default=None)
    return url


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    url = _real_url(config)
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
        if url and "mock_control" in tags:
            item.add_marker(
                pytest.mark.skip(reason=f"@mock_control: needs the embedded mock's admin API, not {url}")
            )


@pytest.fixture(scope="session")
def bdd_target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """The server of this run: ``--rhoconnect-url`` if given, else one embedded mock."""
    login = request.config.getoption("--rhoconnect-login")
    password = request.config.getoption("--rhoconnect-password")
    url = _real_url(request.config)
    if url:
        yield RealTarget(url, login, password)
        return
    from rhoconnect_mock import MockServer  # the mock is only needed when no URL is given

    with MockServer(config=MOCK_CONFIG) as server:
        yield MockTarget(server, login, password)


@pytest.fixture
def world(bdd_target: Target, tmp_path: Path) -> Iterator[World]:
    """A fresh scenario: server state reset (on the mock), no app yet."""
    bdd_target.reset()
    w = World(target=bdd_target, tmp_path=tmp_path, server_url=bdd_target.url)
    try:
        yield w
    finally:
        w.close()


# ------------------------------------------------------------------------------------ HTML report


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_header(cells: list[str]) -> None:
    cells.insert(1, "<th>Feature</th>")
    cells.insert(2, "<th>Tags</th>")


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_row(report: Any, cells: list[str]) -> None:
    props = dict(getattr(report, "user_properties", []))
    cells.insert(1, f"<td>{html.escape(str(props.get('feature', '')))}</td>")
    cells.insert(2, f"<td>{html.escape(str(props.get('tags', '')))}</td>")
