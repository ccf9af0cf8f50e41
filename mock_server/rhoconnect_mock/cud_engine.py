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

from collections.abc import Mapping
from typing import TYPE_CHECKING

from .documents import ClientSourceDoc
from .poll_cache import store_create, store_delete

if TYPE_CHECKING:
    from .state import Client, MockState, SourceSpec


def process_queue(
    state: MockState,
    spec: SourceSpec,
    client: Client,
    doc: ClientSourceDoc,
    blobs: Mapping[str, tuple[str, bytes]],
) -> None:
    """Process the client's queued operations (call with ``state.lock`` held)."""
    md = state.master(spec.name, client.user)
    view = state.view(spec.name, client.user)
    polled = view is not md
    order = {"create": 0, "update": 1, "delete": 2}
    ops = sorted(doc.queue, key=lambda op: order[op[0]])
    doc.queue = []
    for i, (kind, oid, attrs) in enumerate(ops):
        message = state.failures.check(kind, spec.name, client.user, oid)
        if kind == "create":
            if message is not None:
                _object_error(doc, "create-error", oid, attrs, message)
                doc.queue = ops[i + 1 :]
                return
            new_id = md.new_id(state.config.id_template, spec.name)
            value = md.put(new_id, attrs)
            doc.set_held(new_id, store_create(view, new_id, value) if polled else value)
            doc.links[oid] = new_id
            _store_blobs(state, spec, client, oid, new_id, blobs)
        elif kind == "update":
            held = doc.held(view, oid)
            if message is not None:
                _object_error(doc, "update-error", oid, attrs, message)
                doc.errors.setdefault("update-rollback", {})[oid] = dict(held or {})
                continue
            md.merge(oid, attrs)
            if not polled:  # polled: the adapter only, until the next refresh
                doc.set_held(oid, {**(held or {}), **attrs})
            _store_blobs(state, spec, client, oid, oid, blobs)
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
    state: MockState,
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
            state.store_blob(spec.name, client.user, oid, name[: -len(suffix)], blob)
