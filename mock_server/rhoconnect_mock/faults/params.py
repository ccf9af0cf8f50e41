"""Parameter types of fault rules: each validates a value and states its JSON schema.

One ``Param`` is both the check applied to a rule from any channel (scenario file, ``--fail``,
admin API, Python) and the schema the admin OpenAPI document publishes for it, so the two cannot
drift apart. A check takes the value and its field path and returns the normalised value or
raises ``FaultRuleError`` naming that path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import RhoconnectMockError


class FaultRuleError(RhoconnectMockError, ValueError):
    """A fault rule (or scenario file) is invalid; ``field`` names the offending key."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)


@dataclass(frozen=True)
class Param:
    """A checked parameter: ``param(value, where)`` validates, ``schema`` describes it."""

    check: Callable[[Any, str], Any]
    schema: Mapping[str, Any] = field(default_factory=dict)

    def __call__(self, value: Any, where: str) -> Any:
        return self.check(value, where)


def _bound(lo: float, hi: float | None) -> str:
    return f"between {lo} and {hi}" if hi is not None else f">= {lo}"


def integer(lo: int, hi: int | None = None) -> Param:
    def check(value: Any, where: str) -> int:
        in_range = isinstance(value, int) and value >= lo and (hi is None or value <= hi)
        if isinstance(value, bool) or not in_range:
            raise FaultRuleError(where, f"must be an integer {_bound(lo, hi)}")
        return int(value)

    schema: dict[str, Any] = {"type": "integer", "minimum": lo}
    if hi is not None:
        schema["maximum"] = hi
    return Param(check, schema)


def number(lo: float, hi: float | None = None) -> Param:
    def check(value: Any, where: str) -> float:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or value < lo or (hi is not None and value > hi):
            raise FaultRuleError(where, f"must be a number {_bound(lo, hi)}")
        return float(value)

    schema: dict[str, Any] = {"type": "number", "minimum": lo}
    if hi is not None:
        schema["maximum"] = hi
    return Param(check, schema)


def _check_str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise FaultRuleError(where, "must be a string")
    return value


def _check_nonempty_str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise FaultRuleError(where, "must be a non-empty string")
    return value


def _check_bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise FaultRuleError(where, "must be true or false")
    return value


def choice(*choices: str) -> Param:
    def check(value: Any, where: str) -> str:
        if value not in choices:
            raise FaultRuleError(where, "must be one of " + ", ".join(choices))
        return str(value)

    return Param(check, {"type": "string", "enum": list(choices)})


def _check_str_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise FaultRuleError(where, "must be a list of strings")
    return list(value)


def _check_str_map(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise FaultRuleError(where, "must be a table of strings")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise FaultRuleError(f"{where}.{key}", "must be a string")
    return dict(value)


def _check_records(value: Any, where: str) -> dict[str, dict[str, str]]:
    if not isinstance(value, Mapping):
        raise FaultRuleError(where, "must be a table of object id -> attributes")
    return {str(key): _check_str_map(attrs, f"{where}.{key}") for key, attrs in value.items()}


def _check_body(value: Any, where: str) -> Any:
    # A string is sent as it is; anything JSON-shaped is JSON-encoded.
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    raise FaultRuleError(where, "must be a string or JSON value")


def _check_permutation(value: Any, where: str) -> list[int]:
    if (
        not isinstance(value, list)
        or not value
        or any(isinstance(v, bool) or not isinstance(v, int) for v in value)
        or sorted(value) != list(range(len(value)))
    ):
        raise FaultRuleError(where, "must be a permutation of 0..n-1, e.g. [1, 0, 2]")
    return list(value)


STRING = Param(_check_str, {"type": "string"})
NONEMPTY_STRING = Param(_check_nonempty_str, {"type": "string", "minLength": 1})
BOOLEAN = Param(_check_bool, {"type": "boolean"})
STRING_LIST = Param(_check_str_list, {"type": "array", "items": {"type": "string"}})
STRING_MAP = Param(_check_str_map, {"type": "object", "additionalProperties": {"type": "string"}})
RECORDS = Param(
    _check_records,
    {
        "type": "object",
        "additionalProperties": {"type": "object", "additionalProperties": {"type": "string"}},
    },
)
#: A body: a string sent as it is, or any JSON value sent JSON-encoded.
BODY = Param(_check_body, {})
PERMUTATION = Param(
    _check_permutation, {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 0}}
)


def join(where: str, key: str) -> str:
    """The field path of ``key`` inside ``where`` (``action`` + ``status`` -> ``action.status``)."""
    return f"{where}.{key}" if where else key


def check_keys(data: Mapping[str, Any], allowed: tuple[str, ...] | list[str], where: str) -> None:
    """Refuse a key not in ``allowed``, naming it and listing the allowed ones."""
    for key in data:
        if key not in allowed:
            raise FaultRuleError(join(where, str(key)), "unknown key; expected one of " + ", ".join(allowed))


# -- the text of ``--fail`` values -----------------------------------------------------------------


def flag_number(text: str, what: str) -> float:
    """A number written in a ``--fail`` value."""
    try:
        return float(text)
    except ValueError:
        raise FaultRuleError("--fail", f"{what} must be a number, not {text!r}") from None


def flag_integer(text: str, what: str) -> int:
    """A non-negative integer written in a ``--fail`` value."""
    if not text.isdigit():
        raise FaultRuleError("--fail", f"{what} must be a non-negative integer, not {text!r}")
    return int(text)


def flag_value(
    key: str, convert: Callable[[str, str], Any] | None = None, what: str = ""
) -> Callable[[str | None], dict[str, Any]]:
    """A ``--fail`` value that sets one optional parameter (``truncate=7`` sets ``bytes``)."""

    def build(text: str | None) -> dict[str, Any]:
        if text is None:
            return {}
        return {key: convert(text, what or key) if convert else text}

    return build
