"""Pure codec between wire JSON and typed values: pages, links, server errors, request bodies. No I/O.

The page parser follows the Rhodes client (docs/protocol.md#page-layout,
``SyncSource::processServerResponse_ver3``)
rather than a schema: it reads ``version``, ``token``, ``source``, ``count``, ``refresh_time``,
``progress_count`` and ``total_count`` *in that order and only when the current element has that key*;
whatever element comes next is the command hash. A real server always sends them in that order; a
broken one gets the same tolerance Rhodes gives it.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

from .exceptions import ProtocolError, SyncVersionError

__all__ = [
    "PROTOCOL_VERSION",
    "BulkAnswer",
    "ObjectError",
    "Page",
    "PushBatch",
    "RawInsert",
    "ServerErrors",
    "login_body",
    "parse_bulk_data",
    "parse_client_create",
    "parse_page",
    "parse_search",
    "push_body",
]

PROTOCOL_VERSION = 3

# Header elements in the order the Rhodes parser accepts them (after "version").
_HEADER_KEYS = ("token", "source", "count", "refresh_time", "progress_count", "total_count")
_OBJECT_ERROR_KINDS = ("create-error", "update-error", "delete-error")
_BODY_PREVIEW = 300  # keep error messages readable when a server sends megabytes of junk
# Escapes SQLite's JSON reader turns into other text than Python's does: NUL (it cuts the string)
# and UTF-16 surrogates (a lone one becomes bytes that are not UTF-8). A page holding one is applied
# from its parsed form only.
_UNSAFE_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


@dataclass(frozen=True)
class ObjectError:
    """One failed create/update/delete: the adapter's message and the attributes the client sent."""

    message: str
    attributes: dict[str, str]


@dataclass(frozen=True)
class ServerErrors:
    """Adapter errors carried inside a page (docs/protocol.md#adapter-errors-in-pages).

    ``source_error``/``search_error`` map an operation (``query-error``, ``login-error``,
    ``logoff-error``, ``search-error``) to its message.
    """

    source_error: dict[str, str] = field(default_factory=dict)
    search_error: dict[str, str] = field(default_factory=dict)
    create: dict[str, ObjectError] = field(default_factory=dict)
    update: dict[str, ObjectError] = field(default_factory=dict)
    delete: dict[str, ObjectError] = field(default_factory=dict)
    update_rollback: dict[str, dict[str, str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(
            self.source_error
            or self.search_error
            or self.create
            or self.update
            or self.delete
            or self.update_rollback
        )

    def to_notification(self) -> dict[str, Any]:
        """The seed's ``server_errors`` hash (docs/protocol.md#server_errors), in the Rhodes key order.

        Operation errors are flattened to ``{"query-error": {"message": m}}``; object errors become
        ``{"create-error": {id: {"message": m, "attributes": {...}}}}``; the rollback carries only
        ``attributes``.
        """
        out: dict[str, Any] = {}
        for kind, message in self.source_error.items():
            out[kind] = {"message": message}
        for kind, message in self.search_error.items():
            out[kind] = {"message": message}
        for kind, errors in (
            ("create-error", self.create),
            ("update-error", self.update),
            ("delete-error", self.delete),
        ):
            if errors:
                out[kind] = {
                    oid: {"message": err.message, "attributes": dict(err.attributes)}
                    for oid, err in errors.items()
                }
        if self.update_rollback:
            out["update-rollback"] = {
                oid: {"attributes": dict(attrs)} for oid, attrs in self.update_rollback.items()
            }
        return out


@dataclass(frozen=True)
class RawInsert:
    """A page's own JSON text, from which the store may insert the ``insert`` rows in one statement.

    ``path`` is the SQLite JSON path of the page's command hash, ``rows`` the number of
    ``(object, attribute)`` pairs of the parsed ``insert``: reading the text again must give exactly
    that many (fewer or more means duplicate keys, which the parsed form resolves, last one wins).
    Only made when every inserted value is a string and the text has no escape SQLite reads
    differently (``_UNSAFE_ESCAPE``).
    """

    text: str
    path: str
    rows: int


@dataclass(frozen=True)
class Page:
    """One query or search page, already validated.

    ``token`` is 0 when the server sent ``""`` (paging is over). ``insert``/``delete`` map object ids
    to attribute hashes (strings), ``links`` maps a temporary id to the server's id.
    """

    version: int
    token: int
    count: int
    progress_count: int
    total_count: int
    source: str | None
    insert: dict[str, dict[str, str]]
    delete: dict[str, dict[str, str]]
    links: dict[str, str]
    metadata: str | None
    schema_changed: bool
    errors: ServerErrors | None
    refresh_time: int | None = None
    raw_insert: RawInsert | None = field(default=None, compare=False, repr=False)

    @property
    def object_count(self) -> int:
        """Objects carried by the page (``insert`` + ``delete``; links are not counted, as on the wire)."""
        return len(self.insert) + len(self.delete)


@dataclass
class PushBatch:
    """Local changes marked ``sent=1`` for one POST (docs/protocol.md#push-request).

    ``create`` entries carry every attribute of the new object; ``update`` only the changed ones;
    ``delete`` the last known values. ``blobs`` maps the multipart part name ``<attrib>-<object>`` to
    the local file.
    """

    create: dict[str, dict[str, str]] = field(default_factory=dict)
    update: dict[str, dict[str, str]] = field(default_factory=dict)
    delete: dict[str, dict[str, str]] = field(default_factory=dict)
    blobs: dict[str, Path] = field(default_factory=dict)
    push_changes: bool = False

    def __bool__(self) -> bool:
        return bool(self.create or self.update or self.delete or self.push_changes)

    @property
    def blob_fields(self) -> list[str]:
        """Attribute names of the uploaded blobs, sorted, without duplicates."""
        return sorted({name.rsplit("-", 1)[0] for name in self.blobs})


@dataclass(frozen=True)
class BulkAnswer:
    """Answer of ``bulk_data``: ``result`` is ``wait``, ``nop`` or ``url`` (then ``url`` may be ``""``)."""

    result: str
    url: str | None = None


# --------------------------------------------------------------------------- decoding helpers


def _preview(data: bytes | str) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return text if len(text) <= _BODY_PREVIEW else text[:_BODY_PREVIEW] + "..."


def _load(data: bytes | str | list[Any] | dict[str, Any], what: str) -> Any:
    if isinstance(data, list | dict):
        return data
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"{what}: not valid JSON ({exc})", body=_preview(data)) from exc


def _scalar(value: Any, where: str) -> str:
    """A wire value as the string Rhodes would store (servers send strings; mocks may not)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise ProtocolError(f"{where}: attribute value must be a string, got {type(value).__name__}")


def _attr_hash(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ProtocolError(f"{where}: expected an attribute hash, got {type(value).__name__}")
    # The common case (all strings) costs one pass and no copy of the values.
    if all(type(v) is str for v in value.values()):
        return value
    return {str(k): _scalar(v, where) for k, v in value.items()}


def _only_strings(objects: dict[Any, Any]) -> bool:
    """True when every object is a plain hash of strings, the common case.

    One pass in C over the whole page (no Python code per object or value): a page of 2000 objects
    costs about as much as one object through ``_attr_hash``. Anything else (a value that is not a
    string, an object that is not a hash) answers False and goes through the checks one by one.
    """
    try:
        return set(map(type, chain.from_iterable(map(dict.values, objects.values())))) <= {str}
    except TypeError:  # an object that is not a hash (dict.values refuses it)
        return False


def _objects(value: Any, where: str) -> dict[str, dict[str, str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProtocolError(f"{where}: expected a hash of objects, got {type(value).__name__}")
    if _only_strings(value):
        return value
    return {str(oid): _attr_hash(attrs, f"{where}[{oid}]") for oid, attrs in value.items()}


def _int(value: Any, key: str) -> int:
    if isinstance(value, bool):
        raise ProtocolError(f"{key}: expected a number, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        if value == "":
            return 0
        try:
            return int(value)
        except ValueError:
            pass
    raise ProtocolError(f"{key}: expected a number, got {value!r}")


def _token(value: Any) -> int:
    token = _int(value, "token")
    if token < 0 or token >= 1 << 64:  # Rhodes parses the token as unsigned 64-bit
        raise ProtocolError(f"token out of range: {value!r}")
    return token


def _links(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProtocolError("links: expected a hash")
    links: dict[str, str] = {}
    for temp_id, target in value.items():
        if isinstance(target, dict) and "l" in target:
            links[str(temp_id)] = _scalar(target["l"], "links")
        else:
            raise ProtocolError(f'links[{temp_id}]: expected {{"l": id}}, got {target!r}')
    return links


def _messages(value: Any, where: str) -> dict[str, str]:
    """``{"query-error": {"message": m}}`` -> ``{"query-error": m}``."""
    if not isinstance(value, dict):
        raise ProtocolError(f"{where}: expected a hash")
    out: dict[str, str] = {}
    for kind, body in value.items():
        message = body.get("message", "") if isinstance(body, dict) else body
        out[str(kind)] = _scalar(message, where)
    return out


def _object_errors(value: Any, where: str) -> dict[str, ObjectError]:
    """Pair ``{"<id>": {attrs}, "<id>-error": {"message": m}}`` entries (their order varies)."""
    if not isinstance(value, dict):
        raise ProtocolError(f"{where}: expected a hash")
    messages: dict[str, str] = {}
    attributes: dict[str, dict[str, str]] = {}
    for key, body in value.items():
        key = str(key)
        is_message = (
            key.endswith("-error")
            and isinstance(body, dict)
            and set(body) <= {"message"}
            and (key[:-6] in value or "message" in body)
        )
        if is_message:
            messages[key[:-6]] = _scalar(body.get("message", ""), where)
        else:
            attributes[key] = _attr_hash(body, f"{where}[{key}]")
    ids = list(attributes) + [oid for oid in messages if oid not in attributes]
    return {oid: ObjectError(messages.get(oid, ""), attributes.get(oid, {})) for oid in ids}


def _errors(cmd: Mapping[str, Any]) -> ServerErrors | None:
    kinds = ("source-error", "search-error", *_OBJECT_ERROR_KINDS, "update-rollback")
    present = [k for k in kinds if k in cmd]
    if not present:
        return None
    errors = ServerErrors(
        source_error=_messages(cmd["source-error"], "source-error") if "source-error" in cmd else {},
        search_error=_messages(cmd["search-error"], "search-error") if "search-error" in cmd else {},
        create=_object_errors(cmd["create-error"], "create-error") if "create-error" in cmd else {},
        update=_object_errors(cmd["update-error"], "update-error") if "update-error" in cmd else {},
        delete=_object_errors(cmd["delete-error"], "delete-error") if "delete-error" in cmd else {},
        update_rollback=_objects(cmd.get("update-rollback"), "update-rollback"),
    )
    return errors or None


# --------------------------------------------------------------------------- pages


def _page_from_list(items: list[Any], *, require_source: bool, text: str | None = None) -> Page:
    if not items:
        raise ProtocolError("empty page", body="[]")
    first = items[0]
    version = first.get("version") if isinstance(first, dict) else None
    if isinstance(version, str) and version.isdigit():
        version = int(version)
    if version != PROTOCOL_VERSION or isinstance(version, bool):
        raise SyncVersionError(
            f"unsupported sync protocol version {version!r} (expected {PROTOCOL_VERSION})",
            body=_preview(json.dumps(first)),
        )
    header: dict[str, Any] = {}
    i = 1
    for key in _HEADER_KEYS:
        if i < len(items) and isinstance(items[i], dict) and key in items[i]:
            header[key] = items[i][key]
            i += 1
    cmd = items[i] if i < len(items) else {}
    if not isinstance(cmd, dict):
        raise ProtocolError(f"page command element must be a hash, got {type(cmd).__name__}")
    source = header.get("source")
    if source is not None and not isinstance(source, str):
        raise ProtocolError(f"source: expected a name, got {source!r}")
    if require_source and not source:
        raise ProtocolError("search page without a source name")
    metadata = cmd.get("metadata")
    if metadata is not None and not isinstance(metadata, str):
        metadata = json.dumps(metadata)
    schema_changed = cmd.get("schema-changed")
    refresh = header.get("refresh_time")
    insert = _objects(cmd.get("insert"), "insert")
    raw_insert = None
    # ``_objects`` hands back the page's own hash only when every value is a string.
    if text is not None and insert and insert is cmd.get("insert") and not _UNSAFE_ESCAPE.search(text):
        raw_insert = RawInsert(text, f"$[{i}]", sum(map(len, insert.values())))
    return Page(
        version=PROTOCOL_VERSION,
        token=_token(header.get("token", "")),
        count=_int(header.get("count", 0), "count"),
        progress_count=_int(header.get("progress_count", 0), "progress_count"),
        total_count=_int(header.get("total_count", 0), "total_count"),
        source=source,
        insert=insert,
        delete=_objects(cmd.get("delete"), "delete"),
        links=_links(cmd.get("links")),
        metadata=metadata,
        schema_changed=schema_changed in (True, "true"),
        errors=_errors(cmd),
        refresh_time=None if refresh is None else _int(refresh, "refresh_time"),
        raw_insert=raw_insert,
    )


def parse_page(data: bytes | str | list[Any]) -> Page:
    """Parse one query page (docs/protocol.md#page-layout).

    Raises ``ProtocolError`` for anything unparsable (Rhodes code 4) and ``SyncVersionError`` when
    the first element is not ``{"version":3}`` (code 11).
    """
    text = data if isinstance(data, str) else None
    # Decoded here (as json.loads would) to keep the text for the store; anything but plain UTF-8
    # (a BOM, UTF-16, bad bytes) is left to json.loads, which decodes it or reports the error.
    if isinstance(data, bytes) and json.detect_encoding(data) == "utf-8":
        with contextlib.suppress(UnicodeDecodeError):
            text = data.decode("utf-8")
    items = _load(data if text is None else text, "query page")
    if not isinstance(items, list):
        raise ProtocolError("query page: expected a JSON array", body=_preview(json.dumps(items)))
    return _page_from_list(items, require_source=False, text=text)


def parse_search(data: bytes | str | list[Any]) -> list[Page]:
    """Parse a search answer: one page per non-empty sub-array, each naming its ``source``
    (docs/protocol.md#search-answer)."""
    outer = _load(data, "search answer")
    if not isinstance(outer, list):
        raise ProtocolError("search answer: expected a JSON array")
    pages: list[Page] = []
    for sub in outer:
        if not isinstance(sub, list):
            raise ProtocolError("search answer: every element must be an array")
        if sub:
            pages.append(_page_from_list(sub, require_source=True))
    return pages


# --------------------------------------------------------------------------- requests and small answers


def login_body(login: str, password: str) -> bytes:
    """The clientlogin body, byte for byte as Rhodes sends it (docs/protocol.md#login)."""
    return json.dumps({"login": login, "password": password, "remember_me": 1}, separators=(",", ":")).encode(
        "utf-8"
    )


def push_body(source_name: str, client_id: str, batch: PushBatch) -> dict[str, Any]:
    """The CUD POST body (docs/protocol.md#push-request): sections in the order create, update, delete, then
    ``blob_fields``.

    An empty batch (a ``push_changes`` marker only) gives just ``source_name`` and ``client_id``.
    """
    body: dict[str, Any] = {"source_name": source_name, "client_id": client_id}
    if batch.create:
        body["create"] = batch.create
    if batch.update:
        body["update"] = batch.update
    if batch.delete:
        body["delete"] = batch.delete
    if batch.blobs:
        body["blob_fields"] = batch.blob_fields
    return body


def parse_client_create(data: bytes | str | dict[str, Any]) -> str:
    """The client id from ``{"client":{"client_id":"..."}}`` (docs/protocol.md#clientcreate); anything else is
    code 4."""
    doc = _load(data, "clientcreate answer")
    client = doc.get("client") if isinstance(doc, dict) else None
    client_id = client.get("client_id") if isinstance(client, dict) else None
    if not isinstance(client_id, str) or not client_id:
        body = data if isinstance(data, bytes | str) else json.dumps(data)
        raise ProtocolError("clientcreate answer has no client.client_id", body=_preview(body))
    return client_id


def parse_bulk_data(data: bytes | str | dict[str, Any]) -> BulkAnswer:
    """``{"result":"wait"|"nop"|"url", "url": ...}`` from ``bulk_data`` (docs/protocol.md#bulk_data)."""
    doc = _load(data, "bulk_data answer")
    result = doc.get("result") if isinstance(doc, dict) else None
    if result not in ("wait", "nop", "url"):
        body = data if isinstance(data, bytes | str) else json.dumps(data)
        raise ProtocolError(f"bulk_data answer has an unknown result {result!r}", body=_preview(body))
    url = doc.get("url")
    if url is not None and not isinstance(url, str):
        raise ProtocolError(f"bulk_data url must be a string, got {url!r}")
    if result == "url" and url is None:
        raise ProtocolError("bulk_data answer 'url' without a url")
    return BulkAnswer(result=result, url=url)
