"""Bulk sync: ``bulk_data`` polling, ``.rzip`` download and unzip, then the database swap.

Per partition (``user``, ``app``; ``local`` never): ask ``bulk_data`` until the answer is not
``wait`` (sleeping ``bulk_wait_seconds`` between polls, interruptible by ``stop_sync``; a server
still answering ``wait`` after ``bulk_timeout`` seconds fails the bulk sync); ``nop`` means
nothing to do; ``url`` is downloaded as ``<scheme://host/><url>.rzip``, unzipped (one entry) next to
the partition's database and handed to ``Store.install_bulk_database``, which validates the file and
swaps it in keeping pending local changes.

Notifications (``sync_type`` ``bulk``, no source keys, ``-1`` callback only): ``start`` with
partition ``""``, then per partition ``start``, ``download``, ``change_db``, ``blobs`` (only when a
source of the partition has blob attributes, whose files are then downloaded), ``ok`` (all
``in_progress``), ``ok``/finished on ``nop``, and at the end ``complete`` with status ``ok``. A failure
gives ``status`` ``error`` with an empty ``bulk_status`` and ends the sync.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any

from .blobs import download_blobs
from .context import SyncContext
from .exceptions import BulkError, Cancelled, NotAuthorized, ProtocolError, RequestTimeout, RhoconnectError
from .notify import BulkParams, bulk_params, error_fields
from .protocol import parse_bulk_data
from .session import drop_session
from .store import Store

__all__ = ["run_bulk", "unzip_single"]

log = logging.getLogger(__name__)


def unzip_single(archive: Path, dest: Path) -> Path:
    """Extract the one entry of a ``.rzip`` into ``dest``; anything else is a ``BulkError`` (code 4)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
            if len(names) != 1:
                raise BulkError(f"bulk archive holds {len(names)} files, expected exactly one")
            target = dest / Path(names[0]).name  # never trust a path inside the archive
            with zf.open(names[0]) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out, 1024 * 1024)
            return target
    except zipfile.BadZipFile as exc:
        raise BulkError(f"bulk file is not a zip archive: {exc}") from exc
    except (zlib.error, EOFError, RuntimeError, NotImplementedError, OSError) as exc:
        # A damaged download fails inside the decompressor (bad block, truncated stream, bogus
        # method or encryption flag) or on a bogus offset: still the server's answer, code 4.
        raise BulkError(f"bulk archive is damaged: {exc}") from exc


def _work_dir(store: Store) -> Path | None:
    """A folder on the database's filesystem so that the final swap is a rename."""
    path = getattr(store, "path", None)
    if path is None or str(path) == ":memory:":
        return None
    return Path(path).resolve().parent


def run_bulk(ctx: SyncContext, client_id: str) -> dict[str, Any] | None:
    """Bulk-sync every partition; None on success, else the final error parameters."""
    try:
        ctx.global_event(bulk_params("", "start"))
        for partition, store in ctx.partitions():
            if partition == "local":
                continue
            names = [s.name for s in store.sources() if s.sync_type != "none"]
            if names:
                _bulk_partition(ctx, client_id, partition, store, names)
        ctx.settings.bulksync_state = 1
        ctx.settings.save_or_warn("the bulk sync state")  # unsaved: a restart bulk-syncs again
        ctx.global_event(bulk_params("", "complete", status="ok"))
        return None
    except Cancelled:
        raise
    except RhoconnectError as exc:
        if isinstance(exc, NotAuthorized):
            drop_session(ctx)
        log.info("bulk sync failed: %s", exc.message)
        fields = error_fields(exc)
        params: BulkParams = {
            **bulk_params("", "", status="error"),
            "error_code": fields["error_code"],
            "rho_error_code": fields["rho_error_code"],
            "error_message": fields["error_message"],
        }
        return ctx.global_event(params)


def _bulk_partition(ctx: SyncContext, client_id: str, partition: str, store: Store, names: list[str]) -> None:
    ctx.global_event(bulk_params(partition, "start"))
    started = time.monotonic()
    limit = ctx.settings.bulk_timeout
    while True:
        ctx.check_stop()
        body = ctx.transport.bulk_data(client_id=client_id, partition=partition, sources=names)
        answer = parse_bulk_data(body)
        if answer.result != "wait":
            break
        waited = time.monotonic() - started
        if waited >= limit:
            raise RequestTimeout(
                f"bulk file of the {partition} partition not ready: the server still answers "
                f"'wait' after {waited:.0f} s (bulk timeout {limit:g} s)"
            )
        log.info("bulk %s: server answers 'wait' (%.0f s of %g s)", partition, waited, limit)
        # Interruptible sleep: stop_sync sets the flag. Never past the bulk timeout.
        if ctx.stop_flag.wait(min(ctx.settings.bulk_wait_seconds, max(limit - waited, 0.0))):
            raise Cancelled("sync stopped")
    if answer.result == "nop":
        ctx.global_event(bulk_params(partition, "ok", status="ok"))
        return
    if answer.result != "url" or not answer.url:
        raise ProtocolError(f"bulk_data answered {answer.result!r} without a file url")
    ctx.global_event(bulk_params(partition, "download"))
    with tempfile.TemporaryDirectory(prefix="rhoconnect-bulk-", dir=_work_dir(store)) as tmp:
        archive = Path(tmp) / "bulk.rzip"
        ctx.transport.download(ctx.transport.bulk_file_url(answer.url), archive)
        ctx.check_stop()
        data_file = unzip_single(archive, Path(tmp))
        archive.unlink()
        ctx.global_event(bulk_params(partition, "change_db"))
        # Ids of the other partitions' sources: a source new to this one must not take them.
        reserved = [src.source_id for _, o in ctx.partitions() if o is not store for src in o.sources()]
        with store.lock:
            store.install_bulk_database(data_file, reserved_ids=reserved, take=True)  # our download
    with_blobs = [src for src in store.sources() if src.synced and src.blob_attributes]
    if with_blobs:
        ctx.global_event(bulk_params(partition, "blobs"))
        for source in with_blobs:
            download_blobs(ctx, store, source, client_id)
    ctx.global_event(bulk_params(partition, "ok"))
