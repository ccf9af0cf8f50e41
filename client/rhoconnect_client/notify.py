"""Notifications: their parameter sets, routing and delivery.

Who receives what:

* a source event (``in_progress``, ``ok``, ``error``, ``schema-changed``) goes to the per-source
  callback of that source if one is set, else to the ``-1`` callback; a per-source callback is removed
  after its first finished event (``ok``, ``error``, ``schema-changed``), the ``-1`` one stays;
* events without a source (``complete``, bulk events, "not logged in") go to the ``-1`` callback only;
* during a search every event goes to that search's own one-shot callback;
* object notifications go to the ``set_objectnotify_url`` callback, for watched objects only.

What they receive is one of the parameter sets below (``SyncParams``, ``BulkParams``,
``SearchParams``, ``ObjectNotifyParams``, and ``ErrorFields`` for the login callback), with the
registration's own ``params`` merged in. The keys are the ones the Rhodes ``SyncEngine`` API documents;
``rho_error_code`` is added to every one that carries an ``error_code``.

A callback is a callable receiving one ``dict`` (native Python types) or an ``http(s)://`` URL that
receives the same parameters POSTed form-encoded in the Rhodes bracket notation. As in Rhodes, a
callback answering exactly ``"stop"`` is cleared.

While ``suppressed`` is set (after ``stop_sync``) nothing is delivered.
"""

from __future__ import annotations

import logging
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from .exceptions import ERR_CUSTOMSYNCSERVER, ERR_NONE, RhoconnectError
from .store import Source

__all__ = [
    "GLOBAL",
    "BulkParams",
    "Callback",
    "ErrorFields",
    "Notifier",
    "ObjectNotifyParams",
    "ObjectRef",
    "Registration",
    "SearchParams",
    "Status",
    "SyncParams",
    "adapter_error",
    "bulk_params",
    "complete_params",
    "encode_form",
    "error_fields",
    "error_params",
    "failure_entry",
    "merge_params",
    "no_error",
    "source_params",
    "with_outcome",
]

log = logging.getLogger(__name__)

GLOBAL = -1  # the source id of the catch-all notification
FINISHED = frozenset({"ok", "error", "schema-changed"})

Callback = Callable[[dict[str, Any]], Any] | str
FormPoster = Callable[[str, Sequence[tuple[str, str]]], str]

# Exactly the seed's ``status`` values.
Status = Literal["in_progress", "error", "ok", "complete", "schema-changed"]


class ErrorFields(TypedDict):
    """The outcome of an operation; all three are present in every finished event.

    ``error_code`` is the HTTP status when a failure came with an HTTP answer, else a Rhodes number
    (``ERR_*`` in ``exceptions``); ``rho_error_code`` is always the Rhodes number; ``error_message``
    the answer's body for an HTTP error, else a short text. The login callback gets exactly these.
    """

    error_code: int
    rho_error_code: int
    error_message: str


class _SyncEvent(TypedDict):
    status: Status
    sync_type: Literal["incremental"]


class FailedSource(TypedDict):
    """One source that failed during a ``dosync``, as listed in the final ``failed_sources``."""

    source_name: str
    error_code: int
    rho_error_code: int
    error_message: str


class SyncParams(_SyncEvent, total=False):
    """What a ``set_notification`` callback receives during ``dosync``/``dosync_source``.

    ``status`` and ``sync_type`` always; the source keys and counters when a source is involved (not
    in ``complete``, nor in an error that names no source, such as "not logged in"); the error
    fields in finished events; ``server_errors`` only with ``error_code`` ``ERR_CUSTOMSYNCSERVER``
    (adapter errors in a page). (Optional keys are declared with ``total=False`` rather than
    ``NotRequired`` so that ``__optional_keys__`` is right at run time too.)
    """

    source_id: int
    source_name: str
    total_count: int
    processed_count: int
    cumulative_count: int
    error_code: int
    rho_error_code: int
    error_message: str
    server_errors: dict[str, Any]
    failed_sources: list[FailedSource]


class SearchParams(SyncParams):
    """What a search callback receives: a sync event plus the search's own ``search_params``."""

    search_params: dict[str, Any]


class _BulkEvent(TypedDict):
    partition: str
    bulk_status: str
    sync_type: Literal["bulk"]
    status: Status


class BulkParams(_BulkEvent, total=False):
    """A bulk sync event (``-1`` callback only): ``partition`` is ``""`` for the whole run.

    ``bulk_status`` is ``start``, ``download``, ``change_db``, ``ok`` or ``complete``, and ``""`` in
    the ``error`` event, which alone carries the error fields.
    """

    error_code: int
    rho_error_code: int
    error_message: str


class ObjectRef(TypedDict):
    object: str
    source_id: int


class ObjectNotifyParams(TypedDict):
    """What the ``set_objectnotify_url`` callback receives for one applied page: the watched objects
    that were deleted, updated (inserted or changed) and created (linked: the temporary id)."""

    deleted: list[ObjectRef]
    updated: list[ObjectRef]
    created: list[ObjectRef]


def merge_params(params: Mapping[str, Any] | str | None) -> dict[str, Any]:
    """The registration ``params`` as a dict: a mapping as is, a Rhodes query string parsed."""
    if params is None:
        return {}
    if isinstance(params, str):
        return dict(urllib.parse.parse_qsl(params.lstrip("&"), keep_blank_values=True))
    return dict(params)


def no_error() -> ErrorFields:
    return {"error_code": ERR_NONE, "rho_error_code": ERR_NONE, "error_message": ""}


def error_fields(error: RhoconnectError, message: str | None = None) -> ErrorFields:
    """``error_code``, ``rho_error_code`` and ``error_message`` for an exception.

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


def adapter_error(message: str = "") -> ErrorFields:
    """The error fields of adapter errors reported inside a page (they go with ``server_errors``)."""
    return {
        "error_code": ERR_CUSTOMSYNCSERVER,
        "rho_error_code": ERR_CUSTOMSYNCSERVER,
        "error_message": message,
    }


def source_params(
    source: Source,
    status: Status,
    *,
    total: int = 0,
    processed: int = 0,
    cumulative: int = 0,
) -> SyncParams:
    """The keys of every event about one source: its id and name and the counters.

    ``total_count`` is the last page's, ``processed_count`` the objects of the latest page,
    ``cumulative_count`` the objects processed so far for this source in this sync.
    """
    return {
        "source_id": source.source_id,
        "source_name": source.name,
        "sync_type": "incremental",
        "status": status,
        "total_count": total,
        "processed_count": processed,
        "cumulative_count": cumulative,
    }


def error_params(exc: RhoconnectError) -> SyncParams:
    """An ``error`` event that names no source (e.g. not logged in, no client id)."""
    return with_outcome({"status": "error", "sync_type": "incremental"}, error_fields(exc))


def complete_params(failures: list[FailedSource] | None = None) -> SyncParams:
    """The last event of a ``dosync`` (or a search).

    With failed sources it carries the first one's error fields and ``failed_sources`` (one entry
    per failed source), so that the result of ``dosync`` shows them and not only the per-source
    notifications.
    """
    params = with_outcome({"status": "complete", "sync_type": "incremental"}, no_error())
    if failures:
        first = failures[0]
        params["error_code"] = first["error_code"]
        params["rho_error_code"] = first["rho_error_code"]
        params["error_message"] = f"{first['source_name']}: {first['error_message']}"
        params["failed_sources"] = failures
    return params


def failure_entry(params: SyncParams) -> FailedSource:
    """One ``failed_sources`` entry from a source's ``error`` notification."""
    message = str(params.get("error_message") or "")
    errors = params.get("server_errors")
    if errors:
        parts = []
        for kind, value in errors.items():
            inner = value.get("message") if isinstance(value, dict) else None
            parts.append(f"{kind}: {inner}" if isinstance(inner, str) else str(kind))
        message = "; ".join(parts)
    return {
        "source_name": params.get("source_name", ""),
        "error_code": params.get("error_code", 0),
        "rho_error_code": params.get("rho_error_code", 0),
        "error_message": message,
    }


def with_outcome(
    params: SyncParams, outcome: ErrorFields, server_errors: dict[str, Any] | None = None
) -> SyncParams:
    """``params`` with the error fields of ``outcome``, and ``server_errors`` when given."""
    params = {
        **params,
        "error_code": outcome["error_code"],
        "rho_error_code": outcome["rho_error_code"],
        "error_message": outcome["error_message"],
    }
    if server_errors is not None:
        params["server_errors"] = server_errors
    return params


def bulk_params(partition: str, bulk_status: str, status: Status = "in_progress") -> BulkParams:
    return {"partition": partition, "bulk_status": bulk_status, "sync_type": "bulk", "status": status}


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def encode_form(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Flatten params into Rhodes bracket notation.

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
    def source_event(self, source_id: int, params: Mapping[str, Any]) -> dict[str, Any]:
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

    def global_event(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Deliver an event without a source (complete, bulk, not logged in) to ``-1`` only."""
        with self._lock:
            registration = self._by_source.get(GLOBAL)
        return self.deliver(registration, params, GLOBAL)

    def deliver(
        self, registration: Registration | None, params: Mapping[str, Any], source_id: int | None = None
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
        """Report changed watched objects of one applied page; None if nothing watched changed."""
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
        params: ObjectNotifyParams = {
            "deleted": [{"object": oid, "source_id": source_id} for oid in groups["deleted"]],
            "updated": [{"object": oid, "source_id": source_id} for oid in groups["updated"]],
            "created": [{"object": oid, "source_id": source_id} for oid in groups["created"]],
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
