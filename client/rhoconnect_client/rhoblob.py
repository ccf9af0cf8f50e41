"""The ``-rhoblob`` naming convention: an attribute the server names ``<attr>-rhoblob`` is the blob
attribute ``<attr>`` (docs/client-data-model.md#blob-attributes).

RhoConnect itself never writes the suffix: a source adapter names the attribute so (RhoConnect's
blob-sync guide), and the server passes the name on unchanged, in query pages and in bulk files
(where it also appears in the ``source_attribs`` counts). Rhodes reads it in two places:

* **pages**: every attribute name of a page command loses the suffix (rhoconnect-client
  ``CAttrValue``) and the value is handled as a blob whatever ``blob_attribs`` says
  (``SyncSource::processBlob``); an attribute not declared there has no overwrite flag, so a local
  file it already holds is kept (``isOverwriteBlobFromServer`` answers false);
* **after a bulk sync**: every ``<attr>-rhoblob,N`` pair of a property-bag source's
  ``source_attribs`` moves to ``blob_attribs`` as ``<attr>,N``, and the ``object_values`` rows are
  renamed (``SyncSource::processServerBlobAttrs``). ``N`` is the server's count of objects holding the
  attribute, which Rhodes then reads as the overwrite flag (non-zero: overwrite).

A name that is the suffix alone names no attribute and is kept as sent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from .protocol import Page

__all__ = ["SUFFIX", "base_name", "split_source_attribs", "with_blob_attribs", "without_suffix"]

SUFFIX = "-rhoblob"


def base_name(attrib: str) -> str | None:
    """``attr`` for ``attr-rhoblob``; None for any other name (the bare suffix included)."""
    if len(attrib) > len(SUFFIX) and attrib.endswith(SUFFIX):
        return attrib[: -len(SUFFIX)]
    return None


def _suffixed(objects: Mapping[str, Mapping[str, str]]) -> set[str]:
    # The distinct names first (a set union runs in C): a page has thousands of objects, a few names.
    names: set[str] = set().union(*objects.values()) if objects else set()
    return {name for name in names if base_name(name) is not None}


def _renamed(objects: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """Each object's attributes with the suffix dropped, in the page's order: where an object has both
    ``a`` and ``a-rhoblob``, the later one wins, as Rhodes writes them one after the other."""
    out: dict[str, dict[str, str]] = {}
    for oid, attrs in objects.items():
        fresh: dict[str, str] = {}
        for name, value in attrs.items():
            fresh[base_name(name) or name] = value
        out[oid] = fresh
    return out


def without_suffix(page: Page) -> tuple[Page, frozenset[str]]:
    """``page`` with the suffix dropped from its ``insert`` and ``delete`` names, and the names the
    ``insert`` gave as blobs (without the suffix).

    A page whose ``insert`` was renamed loses its ``raw_insert``: its text still holds the suffixed
    names, so the store must insert the parsed rows.
    """
    in_insert = _suffixed(page.insert)
    in_delete = _suffixed(page.delete)
    if not in_insert and not in_delete:
        return page, frozenset()
    renamed = dataclasses.replace(
        page,
        insert=_renamed(page.insert) if in_insert else page.insert,
        delete=_renamed(page.delete) if in_delete else page.delete,
        raw_insert=None if in_insert else page.raw_insert,
    )
    return renamed, frozenset(base_name(name) or name for name in in_insert)


def with_blob_attribs(blob_attribs: str | None, added: Mapping[str, str]) -> str | None:
    """``blob_attribs`` (``attr,flag,...``) with ``added`` (``{attr: flag}``) appended, leaving out the
    attributes already listed: the app's declaration keeps its flag."""
    parts = [p.strip() for p in (blob_attribs or "").split(",") if p.strip()]
    listed = set(parts[::2])
    for name, flag in added.items():
        if name not in listed:
            parts += [name, flag]
            listed.add(name)
    return ",".join(parts) or None


def split_source_attribs(source_attribs: str | None) -> tuple[str, dict[str, str]]:
    """A bulk file's ``source_attribs`` (``attr,count,...``) without its ``-rhoblob`` pairs, and those
    pairs as ``{attr: count}``, the way ``processServerBlobAttrs`` reads them (a trailing name without
    a count is dropped)."""
    tokens = [t for t in (source_attribs or "").split(",") if t]
    kept: list[str] = []
    blobs: dict[str, str] = {}
    for name, count in zip(tokens[::2], tokens[1::2], strict=False):
        base = base_name(name)
        if base is None:
            kept += [name, count]
        else:
            blobs[base] = count
    return ",".join(kept), blobs
