"""Query pages: acknowledgement and re-send, schema changes, metadata, errors.

Builds one answer of ``GET /app/v1/<Source>`` for a client from its document (``documents.scan``)
and what waits for it: links of created objects, per-object errors (delivered once, or with the
pending page until it is acknowledged), the stored ``source-error`` of the last adapter run, the
source's metadata, and ``schema-changed`` after a fixed schema's version changed. A page with
``insert``, ``delete`` or ``links`` gets a real token and stays pending; anything else goes out
with token ``""`` and is forgotten.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from .config import MockConfig
from .documents import ClientSourceDoc, Diff, InitialRun, PendingPage, scan
from .encoding import encode
from .masters import run_adapter, view
from .store import Client, Store

#: Bytes of remembered page JSON kept per dataset (the JSON of about 600,000 5-attribute records).
MEMO_BUDGET = 64 * 1024 * 1024
UNKNOWN_SOURCE_MESSAGE = "Please set uri in your settings or through console"
_ERROR_KEYS = ("create-error", "update-error", "delete-error", "update-rollback")


@dataclass
class Page:
    """A query answer: the JSON bytes plus what goes into the page headers."""

    body: bytes
    token: str
    count: int


def query_page(
    store: Store, config: MockConfig, client: Client, source: str, token: str | None, p_size: int
) -> Page:
    """One query answer (call inside ``store.transaction()``)."""
    spec = store.source(source)
    if spec is None:
        return _page("", 0, 0, {"source-error": {"query-error": {"message": UNKNOWN_SOURCE_MESSAGE}}})
    md = view(store, config, source, client.user)
    doc = client.doc(source)
    resent = _settle_pending(doc, token, config.classic_resend)
    if resent is not None:
        return resent
    # Only a new page runs the adapter (RhoConnect's resend_page does not): a re-send must not
    # use up a limited failure or publish changes the re-sent page cannot carry.
    run_adapter(store, config, spec, client.user)
    source_error = store.source_error(spec.owner(client.user))
    meta = spec.metadata_json()
    if spec.schema is not None:
        schema_page = _schema_answer(store, doc, spec.schema_version, meta, md.visible_count)
        if schema_page is not None:
            return schema_page
    if p_size <= 0:
        return _page("", 0, md.visible_count, {"source-error": source_error} if source_error else {})
    diff = scan(md, doc, p_size)
    send_meta = meta is not None and meta != doc.metadata_seen
    content = _content(doc, diff, meta if send_meta else None, source_error)
    if diff.inserts or diff.deletes or "links" in content:
        tok = store.next_token()
        page = _page(tok, diff.count, md.visible_count, content, _initial_json(diff))
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


def _settle_pending(doc: ClientSourceDoc, token: str | None, classic_resend: bool) -> Page | None:
    """Acknowledge the client's pending page, or answer it again (returned): the page's own token
    acknowledges it; another token (or none, with ``classic_resend``) gets the same page again."""
    if doc.pending is None:
        return None
    if token and token == doc.pending.token:
        doc.acknowledge()
    elif token or classic_resend:
        return Page(doc.pending.body, doc.pending.token, doc.pending.count)
    else:
        # RhoConnect 7.8: no token acknowledges the pending page, all but its links (its
        # ack_token leaves create_links_page in place).
        doc.requeue_links()
        doc.acknowledge()
    return None


def _schema_answer(
    store: Store, doc: ClientSourceDoc, version: str | None, meta: str | None, total: int
) -> Page | None:
    """For a fixed-schema source: the empty page after the client reset for a new schema, or
    ``schema-changed`` (pending until acknowledged) when the version moved since the client's last
    page; ``None`` when a normal page follows."""
    if doc.schema_reset:
        doc.schema_reset = False
        doc.schema_seen = version
        doc.metadata_seen = meta
        return _page("", 0, total, {"metadata": meta} if meta else {})
    if doc.schema_seen is not None and doc.schema_seen != version:
        tok = store.next_token()
        content: dict[str, Any] = {"schema-changed": "true"}
        page = _page(tok, 0, 0, content)
        doc.pending = PendingPage(tok, page.body, 0, "schema-changed", content=content)
        return page
    doc.schema_seen = version
    return None


def _content(
    doc: ClientSourceDoc, diff: Diff, meta: str | None, source_error: dict[str, Any] | None
) -> dict[str, Any]:
    """A page's commands: the diff, the links of created objects, ``meta`` when it is new to the
    client, the adapter's error, and the object errors (which go out once; a pending page that
    carries them re-sends them)."""
    content: dict[str, Any] = {}
    if diff.inserts:
        content["insert"] = diff.inserts
    if diff.deletes:
        content["delete"] = diff.deletes
    if doc.links:
        content["links"] = {temp: {"l": real} for temp, real in doc.links.items()}
        doc.links = {}
    if meta is not None:
        content["metadata"] = meta
    if source_error:
        content["source-error"] = source_error
    for key in _ERROR_KEYS:
        if key in doc.errors:
            content[key] = doc.errors[key]
    doc.errors = {}
    return content


def _initial_json(diff: Diff) -> bytes | None:
    """The JSON of the diff's inserts when they are a run of initial records: remembered on the
    dataset, so clients of every owner that start from nothing share one encoding per page."""
    run = diff.inserts
    if not isinstance(run, InitialRun) or not run:
        return None
    encoded = run.data.remembered(run.start, run.stop)
    if encoded is None:
        try:
            encoded = orjson.dumps(run.as_dict())
        except TypeError:  # a value orjson refuses: this page goes through ``encode`` as a whole
            return None
        run.data.remember(run.start, run.stop, encoded, MEMO_BUDGET)
    return encoded


def _page(
    token: str, count: int, total: int, content: Mapping[str, Any], inserts: bytes | None = None
) -> Page:
    head = [{"version": 3}, {"token": token}, {"count": count}, {"progress_count": 0}, {"total_count": total}]
    if inserts is not None:
        try:
            # Same bytes as encoding the insert dict itself (``encoding`` writes orjson's output).
            return Page(orjson.dumps([*head, {**content, "insert": orjson.Fragment(inserts)}]), token, count)
        except TypeError:
            pass  # something else on the page needs the reference encoder
    if "insert" in content and not isinstance(content["insert"], dict):
        content = {**content, "insert": dict(content["insert"])}  # the reference encoder's type
    return Page(encode([*head, content]), token, count)
