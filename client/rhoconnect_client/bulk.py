"""Bulk sync: ``bulk_data`` polling, ``.rzip`` download and unzip, then the database swap
(docs/protocol.md#bulk-sync, decision "Bulk files").

Per partition (``user``, ``app``; ``local`` never): ask ``bulk_data`` until the answer is not
``wait`` (sleeping ``bulk_wait_seconds`` between polls, interruptible by ``stop_sync``); ``nop`` means
nothing to do; ``url`` is downloaded as ``<scheme://host/><url>.rzip``, unzipped (one entry) next to
the partition's database and handed to ``Store.install_bulk_database``, which validates the file and
swaps it in keeping pending local changes.

Notifications (``sync_type`` ``bulk``, no source keys, ``-1`` callback only,
docs/protocol.md#installing-a-bulk-file): ``start`` with
partition ``""``, then per partition ``start``, ``download``, ``change_db``, ``ok`` (all
``in_progress``), ``ok``/finished on ``nop``, and at the end ``complete`` with status ``ok``. A failure
gives ``status`` ``error`` with an empty ``bulk_status`` and ends the sync.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

from .context import SyncContext
from .exceptions import BulkError, Cancelled, NotAuthorized, ProtocolError, RhoconnectError
from .notify import error_fields
from .protocol import parse_bulk_data
from .store import Store

__all__ = ["bulk_params", "run_bulk", "unzip_single"]

log = logging.getLogger(__name__)


def bulk_params(partition: str, bulk_status: str, status: str = "in_progress") -> dict[str, Any]:
    return {"partition": partition, "bulk_status": bulk_status, "sync_type": "bulk", "status": status}


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
            from .sync_source import drop_session  # import here: sync_source imports this module

            drop_session(ctx)
        log.info("bulk sync failed: %s", exc.message)
        return ctx.global_event({**bulk_params("", "", status="error"), **error_fields(exc)})


def _bulk_partition(ctx: SyncContext, client_id: str, partition: str, store: Store, names: list[str]) -> None:
    ctx.global_event(bulk_params(partition, "start"))
    while True:
        ctx.check_stop()
        body = ctx.transport.bulk_data(client_id=client_id, partition=partition, sources=names)
        answer = parse_bulk_data(body)
        if answer.result != "wait":
            break
        # Interruptible sleep: stop_sync sets the flag.
        if ctx.stop_flag.wait(ctx.settings.bulk_wait_seconds):
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
            store.install_bulk_database(data_file, reserved_ids=reserved)
    ctx.global_event(bulk_params(partition, "ok"))
