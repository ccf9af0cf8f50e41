"""Steps about ``search``: its arguments from a table, and what it stored locally."""

from __future__ import annotations

import urllib.parse
from typing import Any

from pytest_bdd import parsers, then, when
from steps_app import local_records
from world import WAIT, Recorder, World, table_rows


def run_search(world: World, models: str, **arguments: Any) -> None:
    recorder = world.search_callback = Recorder("search")
    handle = world.app().search(
        [m.strip() for m in models.split(",")],
        callback=recorder,
        **arguments,
    )
    world.handle = handle
    world.result = handle.wait(WAIT)
    assert handle.done(), "the search did not finish"


def search_arguments(datatable: list[list[str]]) -> dict[str, Any]:
    """The ``| argument | value |`` table as keyword arguments of ``SyncEngine.search``."""
    arguments: dict[str, Any] = {}
    for row in table_rows(datatable):
        name, value = row["argument"], row["value"]
        if name == "from":
            arguments["from_"] = value
        elif name == "search_params":
            arguments[name] = dict(urllib.parse.parse_qsl(value))
        elif name in ("offset", "max_results", "progress_step"):
            arguments[name] = int(value)
        elif name == "sync_changes":
            arguments[name] = value == "true"
        elif name == "callback_param":
            arguments[name] = value
        else:
            raise AssertionError(f"unknown search argument {name!r}")
    return arguments


@when(parsers.parse('the app searches "{models}" with:'))
def search_with(world: World, models: str, datatable: list[list[str]]) -> None:
    run_search(world, models, **search_arguments(datatable))


@when(
    parsers.parse(
        'the app searches "{model}" for records with "{attr}" equal to the {what} of the '
        'server\'s first "{source}"'
    )
)
def search_like_first(world: World, model: str, attr: str, what: str, source: str) -> None:
    # Data-dependent: pick a value the server really holds, and remember what should match it.
    records = world.target.records(source)
    assert records, f"the server holds no {source} records"
    first = records[min(records, key=lambda k: (len(k), k))]
    value = first[attr]
    world.expected = {oid: attrs for oid, attrs in records.items() if attrs.get(attr) == value}
    run_search(world, model, search_params={attr: value})


@then(parsers.parse('the local "{model}" records are exactly the server\'s records with that brand'))
def local_are_matches(world: World, model: str) -> None:
    assert world.expected is not None
    assert local_records(world, model) == world.expected
