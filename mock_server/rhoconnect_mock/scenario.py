"""Where fault rules come from outside Python: scenario files and ``--fail`` flags.

A scenario file is TOML (``.toml``) or YAML (anything else) with a ``faults`` list of rules in
the canonical shape of ``faults.rules`` (and an optional ``description``)::

    description = "the second page fails once, then the network is slow"
    [[faults]]
    match = { operation = "query", source = "Product" }
    when = { nth = 2 }
    times = 1
    action = { type = "status", status = 500 }

A ``--fail`` flag is the short form of one rule, ``MATCH:ACTION[:WHEN]``:

* MATCH: ``operation[/Source][@user]``, or ``*`` for any operation (``query/Product@alice``);
* ACTION: a status (``500``) or a word registered by an action family, with an optional value, e.g.
  ``reset``, ``delay=0.5``, ``delay=0.1-0.9``, ``trickle=16``, ``query-error=boom``,
  ``expire-session=3``, ``wait``, ``corrupt``;
* WHEN (comma-separated): ``once``, ``always``, ``N`` (times), ``times=N``, ``nth=N``,
  ``first=N``, ``every=K``, ``after=N``, ``p=0.25``, ``seed=7``. Default: always. With three or
  more fields the last one is the timing (``faults.flags`` reads the flag).

Both become the same dicts and go through ``parse_rule``, so a flag and a file rule with the
same meaning behave identically.
"""

from __future__ import annotations

import os
from typing import Any

from .config import read_settings_file
from .errors import ConfigError
from .faults import FaultRuleError, parse_fail_flag, parse_rule, parse_rules

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
