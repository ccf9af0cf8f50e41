"""The state of one scenario: the app's engine, its callbacks and what they heard.

Step definitions stay thin: they read and change a ``World`` and call the public client API
(``SyncEngine``, its models and handles) and the target's public helpers (``targets``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rhoconnect_client import SyncEngine
from targets import Target

#: Upper bound for one sync of the small data sets the features use. Never reached when things work.
WAIT = 30.0


class Recorder:
    """A notification callback that keeps a copy of every dict it receives (thread-safe)."""

    def __init__(self, name: str, reaction: Callable[[dict[str, Any]], Any] | None = None) -> None:
        self.name = name
        self.reaction = reaction
        self._lock = threading.Condition()
        self._calls: list[dict[str, Any]] = []

    def __call__(self, params: dict[str, Any]) -> Any:
        with self._lock:
            self._calls.append(dict(params))
            self._lock.notify_all()
        return self.reaction(params) if self.reaction is not None else None

    @property
    def calls(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._calls)

    def with_status(self, status: str) -> list[dict[str, Any]]:
        return [c for c in self.calls if c.get("status") == status]

    def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate(self._calls):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
            return True


@dataclass
class World:
    """Everything one scenario creates; ``close`` releases it."""

    target: Target
    tmp_path: Path
    engine: SyncEngine | None = None
    server_url: str = ""
    verify_ssl: bool | None = None
    models: list[str] = field(default_factory=list)
    callbacks: dict[str, Recorder] = field(default_factory=dict)
    web_hooks: dict[str, Any] = field(default_factory=dict)
    login_result: dict[str, Any] | None = None
    handle: Any = None
    result: dict[str, Any] | None = None
    search_callback: Recorder | None = None
    object_callback: dict[str, Recorder] = field(default_factory=dict)
    popups: list[dict[str, Any]] = field(default_factory=list)
    created: dict[str, str] = field(default_factory=dict)  # model -> temp id of its last creation
    poll_previous: list[float] = field(default_factory=list)
    error: Exception | None = None
    stop_on_page: dict[str, bool] = field(default_factory=dict)
    expected: dict[str, dict[str, str]] | None = None
    journal_mark: int = 0
    locked: bool = False
    model_callback: dict[str, Recorder] = field(default_factory=dict)  # model -> its callback
    closers: list[Callable[[], None]] = field(default_factory=list)

    def app(self) -> SyncEngine:
        assert self.engine is not None, "the scenario has no client app yet"
        return self.engine

    def callback(self, name: str) -> Recorder:
        assert name in self.callbacks, f"no callback named {name!r} was set"
        return self.callbacks[name]

    def source_id(self, model: str) -> int:
        """The local source id of a model (``engine.model(name).source``)."""
        return int(self.app().model(model).source.source_id)

    def close(self) -> None:
        for closer in reversed(self.closers):
            closer()
        if self.engine is not None:
            self.engine.close()


# ---------------------------------------------------------------------------------------- matching


def resolve(world: World, text: str) -> str:
    """Expand the placeholders the features use in expected values and key paths."""
    if text.startswith("<id of ") and text.endswith(">"):
        return str(world.source_id(text[len("<id of ") : -1]))
    if text.startswith("<new ") and text.endswith(">"):
        model = text[len("<new ") : -1]
        assert model in world.created, f"the scenario created no {model}"
        return world.created[model]
    return text


def lookup(params: Mapping[str, Any], path: str, world: World) -> Any:
    """``server_errors.create-error.<new Product>.message`` -> the nested value (KeyError if absent)."""
    value: Any = params
    for part in path.split("."):
        key = resolve(world, part)
        if not isinstance(value, Mapping) or key not in value:
            raise KeyError(path)
        value = value[key]
    return value


def same(actual: Any, expected: str) -> bool:
    """A table cell against a notification value of native type (ints for counts and codes)."""
    if actual is None:
        return expected == ""
    if isinstance(actual, bool):
        return str(actual).lower() == expected.lower()
    if isinstance(actual, int):
        return expected.lstrip("-").isdigit() and actual == int(expected)
    return str(actual) == expected


def mismatches(world: World, params: Mapping[str, Any], expected: Mapping[str, str]) -> list[str]:
    """Why ``params`` does not hold the expected values (empty when it does)."""
    problems = []
    for path, raw in expected.items():
        want = resolve(world, raw)
        try:
            got = lookup(params, path, world)
        except KeyError:
            problems.append(f"{path}: missing")
            continue
        if not same(got, want):
            problems.append(f"{path}: {got!r} != {want!r}")
    return problems


def table_pairs(datatable: list[list[str]]) -> dict[str, str]:
    """A two-column Gherkin table as parameter -> expected value."""
    return {row[0].strip(): row[1].strip() for row in datatable}


def table_rows(datatable: list[list[str]]) -> list[dict[str, str]]:
    """A table with a header row as a list of dicts."""
    header, *rows = datatable
    return [dict(zip(header, row, strict=True)) for row in rows]
