"""The ``--fail MATCH:ACTION[:WHEN]`` shorthand for a fault rule.

``query/Product@bob:503:nth=2,times=1`` reads: for ``query`` requests on ``Product`` by ``bob``,
answer 503 on the second one, once. ACTION is a status or an action word registered by an
action family (``reset``, ``delay=0.5``, ``create-error=duplicate``...). With three or more
fields the last one is the timing, so an argument may contain ``:`` only when a timing follows
(``cud:create-error=dup: id 7:always``); text that is neither is an error, never folded into
the argument.
"""

from __future__ import annotations

from typing import Any

from .model import MATCHABLE_OPERATIONS
from .params import FaultRuleError, flag_integer, flag_number
from .registry import flag_words
from .rules import parse_rule

TIMING_WORDS = "once, always, N, times=N, nth=N, first=N, every=K, after=N, p=0.25, seed=N"
_KEYED_TIMINGS = ("times", "nth", "first", "every", "after", "p", "seed")


def action_words() -> list[str]:
    """Every action word ``--fail`` accepts besides a status, sorted."""
    return sorted(flag_words())


def flag_action(word: str, value: str | None) -> dict[str, Any]:
    """The action a ``--fail`` word (with its ``=VALUE`` text, if any) stands for."""
    flag = flag_words().get(word)
    if flag is None:
        raise FaultRuleError(
            "--fail", f"unknown action {word!r}; expected a status or one of " + ", ".join(action_words())
        )
    if flag.value is None:
        if value is not None:
            raise FaultRuleError("--fail", f"{word} takes no value")
        return dict(flag.base)
    return {**flag.base, **flag.value(value)}


def _is_timing(text: str) -> bool:
    return all(
        part in ("once", "always") or part.isdigit() or part.partition("=")[0] in _KEYED_TIMINGS
        for part in text.split(",")
    )


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
            times = flag_integer(value, "times")
        elif key in ("nth", "first", "every", "after") and eq:
            when[key] = flag_integer(value, key)
        elif key == "p" and eq:
            when["probability"] = flag_number(value, "p")
        elif key == "seed" and eq:
            when["seed"] = flag_integer(value, "seed")
        else:
            raise FaultRuleError("--fail", f"bad timing word {part!r}; expected {TIMING_WORDS}")
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


def _action(fields: list[str]) -> dict[str, Any]:
    """The action of the ACTION field(s); only an argument may span several (it had a ``:``)."""
    word, eq, value = fields[0].partition("=")
    takes_argument = bool(eq)
    if len(fields) > 1 and not takes_argument:
        extra = ":".join(fields[1:])
        raise FaultRuleError(
            "--fail", f"unexpected {extra!r} after {fields[0]!r}: only the timing may follow ({TIMING_WORDS})"
        )
    if word.isdigit() and not takes_argument:
        return {"type": "status", "status": int(word)}
    return flag_action(word, ":".join([value, *fields[1:]]) if takes_argument else None)


def parse_fail_flag(spec: str) -> dict[str, Any]:
    """``"query/Product:500:once"`` -> the canonical rule dict (validated)."""
    parts = spec.split(":")
    if len(parts) < 2 or not parts[1]:
        raise FaultRuleError("--fail", f"expected MATCH:ACTION[:WHEN], e.g. query:500:once, not {spec!r}")
    match = _match(parts[0])
    timing = parts[-1] if len(parts) >= 3 else None
    if timing is not None and not _is_timing(timing):
        word, eq, _ = parts[1].partition("=")
        if eq:
            raise FaultRuleError(
                "--fail",
                f"{timing!r} after the argument of {word} is not a timing ({TIMING_WORDS}); "
                "an argument may contain ':' only when a timing follows",
            )
        _when(timing)  # names the word that is not a timing
    rule: dict[str, Any] = {"action": _action(parts[1:-1] if timing is not None else parts[1:])}
    if match:
        rule["match"] = match
    if timing is not None:
        when, times = _when(timing)
        if when:
            rule["when"] = when
        if times is not None:
            rule["times"] = times
    try:
        parse_rule(rule)
    except FaultRuleError as exc:
        raise FaultRuleError("--fail", f"{spec!r}: {exc}") from None
    return rule
