"""Processing a client's pushed changes against the simulated backend.

Operations are queued per client and source and processed creates first, then updates, then
deletes, as RhoConnect does. A failed create stops processing: the rest stays queued until the
client's next push (even an empty one). Results go to the client's next page: ``links`` for
created objects, ``create-error``/``update-error``/``delete-error`` with the submitted attributes
and ``<id>-error`` message, and ``update-rollback`` with everything the client held.

For a source with a poll interval, what the master document clients see and the pusher's document
do with each result follows RhoConnect's cache (see ``poll_cache``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from . import masters
from .config import MockConfig
from .documents import ClientSourceDoc
from .poll_cache import store_create, store_delete
from .store import Client, SourceSpec, Store

log = logging.getLogger(__name__)


def push(
    store: Store,
    config: MockConfig,
    client: Client,
    source: str,
    sections: Mapping[str, Mapping[str, Mapping[str, Any]] | None],
    blobs: Mapping[str, tuple[str, bytes]],
) -> None:
    """Queue a client's ``create``/``update``/``delete`` sections and process the queue (call
    inside ``store.transaction()``); a push to an unknown source is ignored, as RhoConnect does."""
    spec = store.source(source)
    if spec is None:
        log.info("push to unknown source %r ignored", source)
        return
    doc = client.doc(source)
    for kind in ("create", "update", "delete"):
        for oid, attrs in (sections.get(kind) or {}).items():
            if kind == "create" and not attrs:
                # RhoConnect stores no empty object: a create without attributes creates
                # nothing, links nothing and counts nothing.
                continue
            clean = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in (attrs or {}).items()}
            doc.queue.append((kind, str(oid), clean))
    process_queue(store, config, spec, client, doc, blobs)


def process_queue(
    store: Store,
    config: MockConfig,
    spec: SourceSpec,
    client: Client,
    doc: ClientSourceDoc,
    blobs: Mapping[str, tuple[str, bytes]],
) -> None:
    """Process the client's queued operations (call inside ``store.transaction()``)."""
    md = masters.master(store, config, spec.name, client.user)
    view = masters.view(store, config, spec.name, client.user)
    polled = view is not md
    order = {"create": 0, "update": 1, "delete": 2}
    ops = sorted(doc.queue, key=lambda op: order[op[0]])
    doc.queue = []
    for i, (kind, oid, attrs) in enumerate(ops):
        message = store.adapter_failures().check(kind, spec.name, client.user, oid)
        if kind == "create":
            if message is not None:
                _object_error(doc, "create-error", oid, attrs, message)
                doc.queue = ops[i + 1 :]
                return
            new_id = md.new_id(config.id_template, spec.name)
            value = md.put(new_id, attrs)
            doc.set_held(new_id, store_create(view, new_id, value) if polled else value)
            doc.links[oid] = new_id
            _store_blobs(store, spec, client, oid, new_id, blobs)
        elif kind == "update":
            held = doc.held(view, oid)
            if message is not None:
                _object_error(doc, "update-error", oid, attrs, message)
                doc.errors.setdefault("update-rollback", {})[oid] = dict(held or {})
                continue
            md.merge(oid, attrs)
            if not polled:  # polled: the adapter only, until the next refresh
                doc.set_held(oid, {**(held or {}), **attrs})
            _store_blobs(store, spec, client, oid, oid, blobs)
        else:
            if message is not None:
                _object_error(doc, "delete-error", oid, attrs, message)
                continue
            md.delete(oid)
            if not polled:
                doc.set_held(oid, None)
                continue
            # The single-object DELETE route sends no attributes: RhoConnect deletes the
            # client's copy of the object, so the whole object goes.
            held = doc.held(view, oid)
            whole = attrs or dict(held or {})
            if held is not None and dict(held) == whole:
                doc.set_held(oid, None)
            store_delete(view, oid, whole)


def _object_error(doc: ClientSourceDoc, key: str, oid: str, attrs: dict[str, str], message: str) -> None:
    errors = doc.errors.setdefault(key, {})
    errors[oid] = attrs
    errors[f"{oid}-error"] = {"message": message}


def _store_blobs(
    store: Store,
    spec: SourceSpec,
    client: Client,
    sent_id: str,
    oid: str,
    blobs: Mapping[str, tuple[str, bytes]],
) -> None:
    # Multipart parts are named <attribute>-<object id as the client sent it>.
    suffix = f"-{sent_id}"
    for name, blob in blobs.items():
        if name.endswith(suffix):
            store.put_blob((*spec.owner(client.user), oid, name[: -len(suffix)]), blob)


def held_copy(
    store: Store, config: MockConfig, client: Client, source: str, oid: str
) -> dict[str, str] | None:
    """The client's own copy of ``oid`` (what the single-object DELETE deletes), or ``None``
    when the client does not hold it or the source is unknown (call inside a transaction)."""
    if store.source(source) is None or source not in client.docs:
        return None
    held = client.docs[source].held(masters.view(store, config, source, client.user), oid)
    return dict(held) if held is not None else None
