"""Argument checks for the public ``SyncEngine`` calls: bad input fails at the call, clearly.

Most calls only queue work for the sync thread, so a wrong argument that slipped through would
surface much later as a confusing notification (or a traceback in the sync thread's log). Each
check raises ``TypeError`` for a value of the wrong type and ``ValueError`` for a value out of range,
naming the call's parameter. ``bool`` is refused where a number is expected: ``True`` as a page size
is a mistake, not 1.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from .notify import Callback

__all__ = [
    "callback",
    "flag",
    "integer",
    "params",
    "query_string",
    "seconds",
    "server_url",
    "source_key",
    "text",
]


def _kind(value: object) -> str:
    return type(value).__name__


def text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {_kind(value)}")
    return value


def flag(name: str, value: object) -> bool:
    """A switch: ``bool`` (or 0/1, as Rhodes apps pass them); a string like "false" is refused."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise TypeError(f"{name} must be True or False, not {value!r}")


def integer(name: str, value: object, *, minimum: int | None = None, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {_kind(value)}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, not {value}")
    return value


def seconds(name: str, value: object) -> float:
    """A duration: a non-negative int or float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds, not {_kind(value)}")
    if value < 0 or value != value:  # NaN is never a valid interval
        raise ValueError(f"{name} must be >= 0, not {value}")
    return value


def source_key(name: str, value: object) -> int | str:
    """A source id (``int``) or name (``str``); the caller resolves it."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"{name} must be a source id (int) or name (str), not {_kind(value)}")
    if isinstance(value, str) and not value:
        raise ValueError(f"{name} must not be empty")
    return value


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def callback(name: str, value: object, *, optional: bool = True) -> Callback | None:
    """A callable taking one dict, or an ``http(s)://`` URL that receives the form-encoded params (decision
    "Callbacks")."""
    if value is None and optional:
        return None
    if isinstance(value, str):
        if not _is_url(value):
            raise ValueError(
                f"{name} must be a callable or an http(s):// URL, not {value!r} (Rhodes controller paths "
                "have no meaning outside a Rhodes app)"
            )
        return value
    if not callable(value):
        raise TypeError(f"{name} must be a callable or an http(s):// URL, not {_kind(value)}")
    return value


def params(name: str, value: object) -> Mapping[str, Any] | str | None:
    """Parameters merged into a callback's dict: a mapping, a query string, or None."""
    if value is None or isinstance(value, str | Mapping):
        return value
    raise TypeError(f"{name} must be a mapping, a query string or None, not {_kind(value)}")


def query_string(name: str, value: object) -> str:
    """``query_params`` (a string, a mapping or None) as the raw string appended to the query URL
    (docs/protocol.md#query-request)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.lstrip("&")
    if isinstance(value, Mapping):
        return urllib.parse.urlencode({str(k): str(v) for k, v in value.items()})
    raise TypeError(f"{name} must be a query string or a mapping, not {_kind(value)}")


def server_url(name: str, value: object) -> str:
    url = text(name, value)
    if not _is_url(url) or len(url.split("://", 1)[1].strip("/")) == 0:
        raise ValueError(f"{name} must be an http(s):// URL with a host, not {url!r}")
    return url
