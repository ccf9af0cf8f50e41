"""Notifications: routing, parameter dicts and delivery (docs/protocol.md#notifications, the decisions in
docs/protocol.md#decisions).

Who receives what:

* a source event (``in_progress``, ``ok``, ``error``, ``schema-changed``) goes to the per-source
  callback of that source if one is set, else to the ``-1`` callback; a per-source callback is removed
  after its first finished event (``ok``, ``error``, ``schema-changed``), the ``-1`` one stays (decision
  "Notification lifetime");
* events without a source (``complete``, bulk events, "not logged in") go to the ``-1`` callback only;
* during a search every event goes to that search's own one-shot callback;
* object notifications go to the ``set_objectnotify_url`` callback, for watched objects only.

A callback is a callable receiving one ``dict`` (native Python types; the registration ``params``
merged in, decision "Callbacks") or an ``http(s)://`` URL that receives the same parameters POSTed
form-encoded in the
Rhodes bracket notation. As in Rhodes, a callback answering exactly ``"stop"`` is cleared.

While ``suppressed`` is set (after ``stop_sync``) nothing is delivered (decision "Notification lifetime").
"""

from __future__ import annotations

import logging
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .exceptions import RhoconnectError

__all__ = [
    "GLOBAL",
    "Callback",
    "Notifier",
    "Registration",
    "encode_form",
    "error_fields",
    "merge_params",
]

log = logging.getLogger(__name__)

GLOBAL = -1  # the source id of the catch-all notification
FINISHED = frozenset({"ok", "error", "schema-changed"})

Callback = Callable[[dict[str, Any]], Any] | str
FormPoster = Callable[[str, Sequence[tuple[str, str]]], str]


def merge_params(params: Mapping[str, Any] | str | None) -> dict[str, Any]:
    """The registration ``params`` as a dict: a mapping as is, a Rhodes query string parsed."""
    if params is None:
        return {}
    if isinstance(params, str):
        return dict(urllib.parse.parse_qsl(params.lstrip("&"), keep_blank_values=True))
    return dict(params)


def error_fields(error: RhoconnectError, message: str | None = None) -> dict[str, Any]:
    """``error_code`` (decision "error_code"), ``rho_error_code`` and ``error_message`` for an exception.

    ``error_message`` is the response body for HTTP errors (as in Rhodes), the text otherwise.
    """
    body = getattr(error, "body", None)
    if message is None:
        if isinstance(body, bytes):
            message = body.decode("utf-8", "replace")
        elif isinstance(body, str) and hasattr(error, "status"):
            message = body
        else:
            message = error.message or str(error)
    return {
        "error_code": error.error_code,
        "rho_error_code": error.rho_error_code,
        "error_message": message,
    }


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def encode_form(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Flatten params into Rhodes bracket notation (decision "Callbacks").

    ``{"server_errors": {"create-error": {"17": {"message": "m"}}}}`` becomes
    ``server_errors[create-error][17][message]=m``; a list of hashes becomes ``key[][field]=...``.
    """
    out: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, sub in value.items():
                walk(f"{prefix}[{key}]", sub)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(prefix + "[]", item)
        else:
            out.append((prefix, _scalar(value)))

    for key, value in params.items():
        if isinstance(value, Mapping | list | tuple):
            walk(str(key), value)
        else:
            out.append((str(key), _scalar(value)))
    return out


@dataclass
class Registration:
    """A callback and the params merged into every call to it."""

    callback: Callback
    params: dict[str, Any] = field(default_factory=dict)


class Notifier:
    """Holds the registrations and delivers notifications (called from the sync thread)."""

    def __init__(self, post_form: FormPoster) -> None:
        self._post_form = post_form
        self._lock = threading.Lock()
        self._by_source: dict[int, Registration] = {}
        self._object_callback: Registration | None = None
        self._watched: dict[int, set[str]] = {}
        self.suppressed = False

    # ------------------------------------------------------------------ registration
    def set_notification(
        self, source_id: int, callback: Callback | None, params: Mapping[str, Any] | str | None = None
    ) -> None:
        with self._lock:
            if callback is None:
                self._by_source.pop(int(source_id), None)
            else:
                self._by_source[int(source_id)] = Registration(callback, merge_params(params))

    def clear_notification(self, source_id: int) -> None:
        with self._lock:
            self._by_source.pop(int(source_id), None)

    def has_notification(self, source_id: int) -> bool:
        with self._lock:
            return int(source_id) in self._by_source

    def set_objectnotify(
        self, callback: Callback | None, params: Mapping[str, Any] | str | None = None
    ) -> None:
        with self._lock:
            self._object_callback = None if callback is None else Registration(callback, merge_params(params))

    def add_objectnotify(self, source_id: int, object_id: str) -> None:
        with self._lock:
            self._watched.setdefault(int(source_id), set()).add(str(object_id))

    def clean_objectnotify(self) -> None:
        with self._lock:
            self._watched.clear()

    # ------------------------------------------------------------------ delivery
    def source_event(self, source_id: int, params: dict[str, Any]) -> dict[str, Any]:
        """Route a source event (per-source, else ``-1``); return what the callback received."""
        finished = params.get("status") in FINISHED
        with self._lock:
            registration = self._by_source.get(source_id)
            if registration is not None and finished and source_id != GLOBAL:
                del self._by_source[source_id]
            if registration is None:
                registration = self._by_source.get(GLOBAL)
                source_id = GLOBAL
        return self.deliver(registration, params, source_id)

    def global_event(self, params: dict[str, Any]) -> dict[str, Any]:
        """Deliver an event without a source (complete, bulk, not logged in) to ``-1`` only."""
        with self._lock:
            registration = self._by_source.get(GLOBAL)
        return self.deliver(registration, params, GLOBAL)

    def deliver(
        self, registration: Registration | None, params: dict[str, Any], source_id: int | None = None
    ) -> dict[str, Any]:
        """Call ``registration`` with ``params`` merged with its own; return the merged dict."""
        merged = {**params, **registration.params} if registration is not None else dict(params)
        if registration is None or self.suppressed:
            return merged
        answer = self._call(registration.callback, merged)
        if answer == "stop" and source_id is not None:
            self.clear_notification(source_id)
        return merged

    def objects_event(
        self,
        source_id: int,
        created: Iterable[str],
        updated: Iterable[str],
        deleted: Iterable[str],
        links: Mapping[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """Report changed watched objects of one applied page (docs/protocol.md#object-notifications); None if
        nothing watched changed."""
        with self._lock:
            registration = self._object_callback
            watched = self._watched.get(source_id)
            if registration is None or not watched:
                return None
            # A watched temp id keeps being watched under its server id once the link arrives.
            for old, new in (links or {}).items():
                if old in watched:
                    watched.add(new)
            groups = {
                "deleted": [i for i in deleted if i in watched],
                "updated": [i for i in updated if i in watched],
                "created": [i for i in created if i in watched],
            }
        if not any(groups.values()):
            return None
        params: dict[str, Any] = {
            kind: [{"object": oid, "source_id": source_id} for oid in ids] for kind, ids in groups.items()
        }
        return self.deliver(registration, params)

    def _call(self, callback: Callback, params: dict[str, Any]) -> Any:
        # A failing callback must never break the sync: log it and carry on.
        try:
            if isinstance(callback, str):
                fields = [*encode_form(params), ("rho_callback", "1")]
                return self._post_form(callback, fields).strip()
            return callback(params)
        except Exception:
            log.exception("notification callback %r failed", getattr(callback, "__name__", callback))
            return None
