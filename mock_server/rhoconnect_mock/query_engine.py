"""Query pages: acknowledgement and re-send (decision "Paging acknowledgement"), schema changes, metadata,
errors.

Builds one answer of ``GET /app/v1/<Source>`` for a client from its document (``documents.scan``)
and what waits for it: links of created objects, per-object errors (delivered once, or with the
pending page until it is acknowledged), the stored ``source-error`` of the last adapter run, the
source's metadata, and ``schema-changed`` after a fixed schema's version changed. A page with
``insert``, ``delete`` or ``links`` gets a real token and stays pending; anything else goes out
with token ``""`` and is forgotten.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .documents import PendingPage, scan

if TYPE_CHECKING:
    from .state import Client, MockState, SourceSpec

UNKNOWN_SOURCE_MESSAGE = "Please set uri in your settings or through console"
_ERROR_KEYS = ("create-error", "update-error", "delete-error", "update-rollback")


def encode(value: Any) -> bytes:
    """Compact JSON, UTF-8, as RhoConnect writes it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass
class Page:
    """A query answer: the JSON bytes plus what goes into the page headers."""

    body: bytes
    token: str
    count: int


def run_adapter(state: MockState, spec: SourceSpec, user: str) -> None:
    """Simulate the adapter's login/query/logoff and store the resulting ``source-error``.

    A successful query publishes the backend's changes to clients (``MasterDocument.publish``);
    a failed login or query leaves what clients see as it was, as RhoConnect keeps its master
    document. A failed logoff comes after the query, so the data are published.
    """
    key = state.owner(spec, user)
    errors: dict[str, Any] = {}
    for stage in ("login", "query", "logoff"):
        message = state.failures.check(stage, spec.name, user)
        if message is not None:
            errors = {f"{stage}-error": {"message": message}}
            break
        if stage == "query":
            state.master(spec.name, user).publish()
            state.refresh_view(spec, user)
    if errors:
        state.source_error_store[key] = errors
    else:
        state.source_error_store.pop(key, None)


def query_page(state: MockState, client: Client, source: str, token: str | None, p_size: int) -> Page:
    """One query answer (call with ``state.lock`` held)."""
    spec = state.sources.get(source)
    if spec is None:
        return _page("", 0, 0, {"source-error": {"query-error": {"message": UNKNOWN_SOURCE_MESSAGE}}})
    md = state.view(source, client.user)
    doc = client.doc(source)
    if doc.pending is not None:
        if token and token == doc.pending.token:
            doc.acknowledge()
        elif token or state.config.classic_resend:
            return Page(doc.pending.body, doc.pending.token, doc.pending.count)
        else:
            # RhoConnect 7.8: no token acknowledges the pending page, all but its links (its
            # ack_token leaves create_links_page in place).
            doc.requeue_links()
            doc.acknowledge()
    # Only a new page runs the adapter (RhoConnect's resend_page does not): a re-send must not
    # use up a limited failure or publish changes the re-sent page cannot carry.
    run_adapter(state, spec, client.user)
    source_error = state.source_error_store.get(state.owner(spec, client.user))
    meta = spec.metadata_json()
    if spec.schema is not None:
        if doc.schema_reset:
            doc.schema_reset = False
            doc.schema_seen = spec.schema_version
            doc.metadata_seen = meta
            return _page("", 0, md.visible_count, {"metadata": meta} if meta else {})
        if doc.schema_seen is not None and doc.schema_seen != spec.schema_version:
            tok = state.tokens.next()
            content: dict[str, Any] = {"schema-changed": "true"}
            page = _page(tok, 0, 0, content)
            doc.pending = PendingPage(tok, page.body, 0, "schema-changed", content=content)
            return page
        doc.schema_seen = spec.schema_version
    if p_size <= 0:
        return _page("", 0, md.visible_count, {"source-error": source_error} if source_error else {})
    diff = scan(md, doc, p_size)
    content = {}
    if diff.inserts:
        content["insert"] = diff.inserts
    if diff.deletes:
        content["delete"] = diff.deletes
    if doc.links:
        content["links"] = {temp: {"l": real} for temp, real in doc.links.items()}
        doc.links = {}
    send_meta = meta is not None and meta != doc.metadata_seen
    if send_meta:
        content["metadata"] = meta
    if source_error:
        content["source-error"] = source_error
    for key in _ERROR_KEYS:  # object errors go out once (re-sent only inside a pending page)
        if key in doc.errors:
            content[key] = doc.errors[key]
    doc.errors = {}
    if diff.inserts or diff.deletes or "links" in content:
        tok = state.tokens.next()
        page = _page(tok, diff.count, md.visible_count, content)
        doc.pending = PendingPage(
            tok,
            page.body,
            diff.count,
            "data",
            diff.cursor,
            diff.overlay,
            diff.sent,
            meta if send_meta else None,
            content,
        )
        return page
    doc.advance(diff.cursor, diff.overlay)
    if send_meta:
        doc.metadata_seen = meta
    return _page("", 0, md.visible_count, content)


def _page(token: str, count: int, total: int, content: Mapping[str, Any]) -> Page:
    body = encode(
        [
            {"version": 3},
            {"token": token},
            {"count": count},
            {"progress_count": 0},
            {"total_count": total},
            content,
        ]
    )
    return Page(body, token, count)
