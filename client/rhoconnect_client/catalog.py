"""Declaring models: which partition store holds a source, its id, its schema and blob attributes.

Rhodes rules (docs/protocol.md#local-storage): a source id names one source across all partitions (new ids are
the maximum of every partition plus one); a name lives in one partition only; the ``local``
partition holds only models that never sync. A ``schema`` (the server's ``{"property": {...}}``
form, or its JSON text) makes a fixed-schema model, kept in its own table (``fixed``); its
properties of type ``blob`` join the source's ``blob_attribs`` (``attr,overwrite,...``), as
RhoConnect derives them. Declaring it again with another schema rebuilds the table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from typing import Any

from . import fixed
from .models import Model
from .store import Store
from .store_rows import SOURCE_OPTIONS

__all__ = ["declare", "merge_blob_attribs", "schema_properties"]

_SYNC_TYPES = ("incremental", "bulk_sync_only", "none")


def declare(
    stores: Mapping[str, Store],
    open_store: Callable[[str], Store],
    name: str,
    *,
    sync_priority: int,
    sync_type: str,
    partition: str,
    schema: Mapping[str, Any] | str | None,
    associations: str | None,
    blob_attribs: str | None,
    options: Collection[str] = (),
) -> Model:
    """Register (or update) source ``name`` in ``partition`` and return its model.

    ``options`` are Rhodes' source options, kept in ``sources.source_attribs``: ``pass_through``
    (every page replaces the source's data, objects with unconfirmed local changes excepted, and one
    page ends the pull; pushed creates are not kept waiting for links) and ``full_update`` (an
    update carries all the object's attributes).
    """
    if isinstance(options, str) or not set(options) <= SOURCE_OPTIONS:
        raise ValueError(f"options must be a list of {', '.join(sorted(SOURCE_OPTIONS))}, not {options!r}")
    if sync_type not in _SYNC_TYPES:
        raise ValueError(f"sync_type must be incremental, bulk_sync_only or none, not {sync_type!r}")
    if partition == "local" and sync_type != "none":
        # The local partition is never synced (no query, no push, no bulk file): accepting
        # this would queue changes that never leave the device.
        raise ValueError(
            f"model {name!r}: partition 'local' holds local-only models that are never synced, "
            f"so its sync_type must be 'none', not {sync_type!r}"
        )
    for other_partition, other in stores.items():
        if other_partition != partition and other.source(name) is not None:
            raise ValueError(f"model {name!r} already lives in partition {other_partition!r}")
    schema_text = schema if schema is None or isinstance(schema, str) else json.dumps(schema)
    if schema is not None:
        blob_attribs = merge_blob_attribs(blob_attribs, schema_properties(schema))
    store = open_store(partition)
    source_id = None
    if store.source(name) is None:
        # Rhodes allocates ids across all partitions so that an id names one source (max + 1).
        used = [src.source_id for other in stores.values() for src in other.sources()]
        source_id = max(used, default=0) + 1
    with store.transaction() as conn:
        before = store.source(name)
        source = store.register_source(
            name,
            sync_priority=sync_priority,
            sync_type=sync_type,
            partition=partition,
            schema=schema_text,
            associations=associations,
            blob_attribs=blob_attribs,
            source_id=source_id,
            options=options,
        )
        if before is not None and fixed.is_fixed(before) and before.schema != source.schema:
            fixed.rebuild(conn, before, source)  # the table follows the new schema
        elif fixed.is_fixed(source):
            fixed.install(conn, source)
    return Model(store, source)


def schema_properties(schema: Mapping[str, Any] | str) -> dict[str, str]:
    """``{property: type}`` of a source schema (``{"property": {"name": "string", ...}}``)."""
    try:
        data = json.loads(schema) if isinstance(schema, str) else schema
    except ValueError as exc:
        raise ValueError(f"schema is not valid JSON: {exc}") from None
    props = data.get("property") if isinstance(data, Mapping) else None
    if not isinstance(props, Mapping):
        raise ValueError('a schema needs a "property" table: {"property": {"name": "string"}}')
    return {str(k): str(v) for k, v in props.items()}


def merge_blob_attribs(blob_attribs: str | None, properties: Mapping[str, str]) -> str | None:
    """``blob_attribs`` plus every property of type ``blob`` not yet listed (flag 1 for
    ``blob,overwrite``), as RhoConnect derives a source's ``blob_attribs`` from its schema."""
    parts = [p.strip() for p in (blob_attribs or "").split(",") if p.strip()]
    listed = set(parts[::2])
    for name, kind in properties.items():
        words = [w.strip() for w in kind.split(",")]  # "blob" or "blob,overwrite", as the server writes
        if "blob" in words and name not in listed:
            parts += [name, "1" if "overwrite" in words else "0"]
    return ",".join(parts) or None
