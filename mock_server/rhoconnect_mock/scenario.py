"""Where fault rules come from outside Python: scenario files and ``--fail`` flags.

A scenario file is TOML (``.toml``) or YAML (anything else) with a ``faults`` list of rules in
the canonical shape of ``fault_rules`` (and an optional ``description``)::

    description = "the second page fails once, then the network is slow"
    [[faults]]
    match = { operation = "query", source = "Product" }
    when = { nth = 2 }
    times = 1
    action = { type = "status", status = 500 }

A ``--fail`` flag is the short form of one rule, ``MATCH:ACTION[:WHEN]``:

* MATCH: ``operation[/Source][@user]``, or ``*`` for any operation (``query/Product@alice``);
* ACTION: a status (``500``) or a name with an optional value (see ``FLAG_ACTIONS``), e.g.
  ``reset``, ``delay=0.5``, ``delay=0.1-0.9``, ``trickle=16``, ``query-error=boom``,
  ``expire-session=3``, ``wait``, ``corrupt``;
* WHEN (comma-separated): ``once``, ``always``, ``N`` (times), ``times=N``, ``nth=N``,
  ``first=N``, ``every=K``, ``after=N``, ``p=0.25``, ``seed=7``. Default: always.

Both become the same dicts and go through ``parse_rule``, so a flag and a file rule with the
same meaning behave identically.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from .config import read_settings_file
from .errors import ConfigError
from .fault_rules import ADAPTER_STAGES, MATCHABLE_OPERATIONS, FaultRuleError, parse_rule, parse_rules

SCENARIO_KEYS = ("description", "faults")


def load_scenario(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The validated rules of a scenario file, as dicts (``FaultRuleError`` names the bad key)."""
    try:
        data = read_settings_file(path, "scenario")
    except ConfigError as exc:
        raise FaultRuleError(exc.key, exc.message) from None
    return scenario_rules(data)


def scenario_rules(data: Any) -> list[dict[str, Any]]:
    """Validate the parsed content of a scenario file and return its rules."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FaultRuleError("scenario", "must be a table with a faults list")
    for key in data:
        if key not in SCENARIO_KEYS:
            raise FaultRuleError(str(key), "unknown key; expected " + ", ".join(SCENARIO_KEYS))
    rules = data.get("faults", [])
    parse_rules(rules, "faults")  # validate now; the engine parses again for fresh counters
    return [dict(r) for r in rules]


# -- flags ---------------------------------------------------------------------------------------


def _number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise FaultRuleError("--fail", f"{what} must be a number, not {text!r}") from None


def _integer(text: str, what: str) -> int:
    if not text.isdigit():
        raise FaultRuleError("--fail", f"{what} must be a non-negative integer, not {text!r}")
    return int(text)


def _delay(value: str | None) -> dict[str, Any]:
    if value is None:
        raise FaultRuleError("--fail", "delay needs seconds: delay=0.5 or delay=0.1-0.9")
    low, dash, high = value.partition("-")
    if dash:
        return {"type": "delay", "min": _number(low, "delay min"), "max": _number(high, "delay max")}
    return {"type": "delay", "seconds": _number(value, "delay")}


def _trickle(value: str | None) -> dict[str, Any]:
    action: dict[str, Any] = {"type": "trickle"}
    if value:
        chunk, slash, interval = value.partition("/")
        action["chunk_size"] = _integer(chunk, "trickle chunk size")
        if slash:
            action["interval"] = _number(interval, "trickle interval")
    return action


Builder = Callable[[str | None], dict[str, Any]]


def _with(kind: str, key: str, convert: Callable[[str, str], Any] | None = None) -> Builder:
    def build(value: str | None) -> dict[str, Any]:
        action: dict[str, Any] = {"type": kind}
        if value is not None:
            action[key] = convert(value, f"{kind} {key}") if convert else value
        return action

    return build


def _fixed(action: dict[str, Any]) -> Builder:
    def build(value: str | None) -> dict[str, Any]:
        if value is not None:
            raise FaultRuleError("--fail", f"{action['type']} takes no value")
        return dict(action)

    return build


FLAG_ACTIONS: dict[str, Builder] = {
    "reset": _fixed({"type": "reset"}),
    "reset-after-headers": _fixed({"type": "reset", "at": "after_headers"}),
    "truncate": _with("truncate", "bytes", _integer),
    "trickle": _trickle,
    "delay": _delay,
    "malformed-json": _with("malformed_json", "body"),
    "empty-array": _fixed({"type": "empty_array"}),
    "wrong-version": _with("wrong_version", "version", _integer),
    "out-of-order": _fixed({"type": "out_of_order"}),
    "schema-changed": _fixed({"type": "schema_changed"}),
    "wait": _fixed({"type": "bulk", "result": "wait"}),
    "nop": _fixed({"type": "bulk", "result": "nop"}),
    "empty-url": _fixed({"type": "bulk", "result": "empty_url"}),
    "corrupt": _with("corrupt_file", "bytes", _integer),
    "truncate-file": lambda v: {**_with("corrupt_file", "bytes", _integer)(v), "mode": "truncate"},
    "expire-session": lambda v: {"type": "expire_session", "after": _integer(v or "", "expire-session")},
    **{f"{stage}-error": _with("adapter_error", "message") for stage in ADAPTER_STAGES},
}


def _action(text: str) -> dict[str, Any]:
    if text.isdigit():
        return {"type": "status", "status": int(text)}
    name, eq, value = text.partition("=")
    build = FLAG_ACTIONS.get(name)
    if build is None:
        raise FaultRuleError(
            "--fail",
            f"unknown action {name!r}; expected a status or one of " + ", ".join(sorted(FLAG_ACTIONS)),
        )
    action = build(value if eq else None)
    if name.endswith("-error"):
        action["stage"] = name[: -len("-error")]
    return action


WHEN_WORDS = ("once", "always", "times", "nth", "first", "every", "after", "p", "seed")


def _looks_like_when(text: str) -> bool:
    return all(part.isdigit() or part.partition("=")[0] in WHEN_WORDS for part in text.split(","))


def _when(text: str) -> tuple[dict[str, Any], int | None]:
    when: dict[str, Any] = {}
    times: int | None = None
    for part in text.split(","):
        key, eq, value = part.partition("=")
        if part == "once":
            times = 1
        elif part == "always":
            times = None
        elif part.isdigit():
            times = int(part)
        elif key == "times" and eq:
            times = _integer(value, "times")
        elif key in ("nth", "first", "every", "after") and eq:
            when[key] = _integer(value, key)
        elif key == "p" and eq:
            when["probability"] = _number(value, "p")
        elif key == "seed" and eq:
            when["seed"] = _integer(value, "seed")
        else:
            raise FaultRuleError(
                "--fail",
                f"bad occurrence {part!r}; expected once, always, N, times=N, "
                "nth=N, first=N, every=K, after=N, p=0.25, seed=N",
            )
    return when, times


def _match(text: str) -> dict[str, Any]:
    match: dict[str, Any] = {}
    rest, at, user = text.partition("@")
    op, slash, source = rest.partition("/")
    if op not in ("*", ""):
        if op not in MATCHABLE_OPERATIONS:
            raise FaultRuleError(
                "--fail", f"unknown operation {op!r}; expected * or one of " + ", ".join(MATCHABLE_OPERATIONS)
            )
        match["operation"] = op
    if slash:
        match["source"] = source
    if at:
        match["user"] = user
    return match


def parse_fail_flag(spec: str) -> dict[str, Any]:
    """``"query/Product:500:once"`` -> the canonical rule dict (validated)."""
    parts = spec.split(":")
    if len(parts) < 2 or not parts[1]:
        raise FaultRuleError("--fail", f"expected MATCH:ACTION[:WHEN], e.g. query:500:once, not {spec!r}")
    when_text = parts[-1] if len(parts) >= 3 and _looks_like_when(parts[-1]) else None
    action_text = ":".join(parts[1:-1] if when_text is not None else parts[1:])
    rule: dict[str, Any] = {"action": _action(action_text)}
    match = _match(parts[0])
    if match:
        rule["match"] = match
    if when_text is not None:
        when, times = _when(when_text)
        if when:
            rule["when"] = when
        if times is not None:
            rule["times"] = times
    try:
        parse_rule(rule)
    except FaultRuleError as exc:
        raise FaultRuleError("--fail", f"{spec!r}: {exc}") from None
    return rule


def config_faults(scenario: str | os.PathLike[str] | None, faults: Any) -> list[dict[str, Any]]:
    """The start-up rules of a config: a scenario file's, then ``faults`` (rule dicts or flags).

    Errors become ``ConfigError`` naming the key (``faults[1].action.status``, ``scenario``), so
    ``rhoconnect-mock serve`` prints one line and exits with status 2.
    """
    rules: list[dict[str, Any]] = []
    if scenario is not None:
        try:
            rules.extend(load_scenario(scenario))
        except FaultRuleError as exc:
            key = "scenario" if exc.field == "scenario" else f"scenario {exc.field}"
            raise ConfigError(key, f"{exc.message} (in {scenario})") from None
    if faults is None:
        return rules
    items = [faults] if isinstance(faults, str | dict) else faults
    if not isinstance(items, list):
        raise ConfigError("faults", "must be a list of rules or --fail strings")
    for i, item in enumerate(items):
        try:
            if isinstance(item, str):
                rules.append(parse_fail_flag(item))
            else:
                parse_rule(item, f"faults[{i}]")
                rules.append(dict(item))
        except FaultRuleError as exc:
            raise ConfigError(exc.field, exc.message) from None
    try:
        parse_rules(rules, "faults")  # duplicate ids across the file and the flags
    except FaultRuleError as exc:
        raise ConfigError(exc.field, exc.message) from None
    return rules
