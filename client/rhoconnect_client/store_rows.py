"""Row types of a partition store: the ``client_info`` row and a ``sources`` row.

Plain frozen dataclasses read from the Rhodes tables; ``store`` re-exports them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["SOURCE_COLUMNS", "SOURCE_OPTIONS", "ClientInfo", "Source", "options_in", "source_from_row"]


@dataclass(frozen=True)
class ClientInfo:
    """The single ``client_info`` row (docs/protocol.md#local-storage); ``session`` is the cookie string."""

    client_id: str | None = None
    session: str | None = None
    reset: bool = False
    token: str | None = None
    token_sent: int = 0
    port: str | None = None
    last_sync_success: str | None = None


@dataclass(frozen=True)
class Source:
    """One ``sources`` row: a model that syncs (or not) with the server."""

    source_id: int
    name: str
    token: int
    sync_priority: int
    partition: str
    sync_type: str
    metadata: str | None = None
    schema: str | None = None
    associations: str | None = None
    blob_attribs: str | None = None
    last_updated: int = 0
    # A page's ``refresh_time`` (docs/protocol.md#page-layout); 0 until a server sends one (RhoConnect 7.8
    # never does).
    backend_refresh_time: int = 0
    # Rhodes keeps a source's options (``pass_through``) in ``source_attribs``; a bulk file writes
    # attribute counts there instead (``name,25,...``), which carry no option.
    source_attribs: str | None = None

    @property
    def options(self) -> frozenset[str]:
        """The source options set in ``source_attribs`` (``pass_through``, ``full_update``)."""
        return options_in(self.source_attribs)

    @property
    def pass_through(self) -> bool:
        """Each page replaces the source's data and paging stops after it (Rhodes ``pass_through``)."""
        return "pass_through" in self.options

    @property
    def full_update(self) -> bool:
        """An update sends every attribute of the object, not only the changed ones."""
        return "full_update" in self.options

    @property
    def synced(self) -> bool:
        """False for local-only models (``sync_type`` ``none``), which never queue changes."""
        return self.sync_type != "none"

    @property
    def association_pairs(self) -> list[tuple[str, str]]:
        """``(child source name, attribute)`` pairs of models whose attribute holds an id of this one."""
        return _pairs(self.associations)

    @property
    def blob_flags(self) -> dict[str, str]:
        """``{attribute: overwrite flag}`` from ``blob_attribs`` (``attr,overwrite,attr,overwrite...``)."""
        parts = [p.strip() for p in (self.blob_attribs or "").split(",")]
        return {name: flag for name, flag in zip(parts[::2], [*parts[1::2], ""], strict=False) if name}

    @property
    def blob_attributes(self) -> frozenset[str]:
        """Attribute names stored as files."""
        return frozenset(self.blob_flags)

    @property
    def blobs_kept_locally(self) -> frozenset[str]:
        """Blob attributes without the overwrite flag (``attr,0``): a file the client already holds
        is kept when the server sends the attribute again (Rhodes ``isOverwriteBlobFromServer``,
        which reads the flag as a number: any non-zero one overwrites, such as the object counts a
        bulk sync moves there from ``-rhoblob`` names)."""
        return frozenset(name for name, flag in self.blob_flags.items() if not _overwrites(flag))


SOURCE_COLUMNS = (
    "source_id, name, token, sync_priority, partition, sync_type, metadata, schema, associations, "
    "blob_attribs, last_updated, backend_refresh_time, source_attribs"
)

SOURCE_OPTIONS = frozenset({"pass_through", "full_update"})


def options_in(source_attribs: str | None) -> frozenset[str]:
    """Option words of a ``source_attribs`` value; empty unless every word is a known option."""
    words = {w.strip() for w in (source_attribs or "").split(",") if w.strip()}
    return frozenset(words) if words and words <= SOURCE_OPTIONS else frozenset()


def _overwrites(flag: str) -> bool:
    """A flag's number is not 0; like Rhodes, a flag that is no number reads as 0."""
    digits = flag[1:] if flag[:1] in "+-" else flag
    return digits.isascii() and digits.isdigit() and int(digits) != 0


def _pairs(text: str | None) -> list[tuple[str, str]]:
    parts = [p.strip() for p in (text or "").split(",")]
    return [(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2) if parts[i] and parts[i + 1]]


def source_from_row(row: Sequence[Any]) -> Source:
    return Source(
        source_id=int(row[0]),
        name=str(row[1]),
        token=int(row[2] or 0),
        sync_priority=int(row[3] if row[3] is not None else 1000),
        partition=str(row[4] or "user"),
        sync_type=str(row[5] or "incremental"),
        metadata=row[6],
        schema=row[7],
        associations=row[8],
        blob_attribs=row[9],
        last_updated=int(row[10] or 0),
        backend_refresh_time=int(row[11] or 0),
        source_attribs=row[12],
    )
