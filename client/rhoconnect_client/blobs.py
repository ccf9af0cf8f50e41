"""Blob attributes: files the server references by URL, kept as local files (docs/protocol.md#push-request,
docs/protocol.md#installing-a-bulk-file).

A source's blob attributes are named in ``sources.blob_attribs`` (``attr,overwrite,...``, or a
schema property of type ``blob``); an attribute the server names ``<attr>-rhoblob`` joins them when a
page or a bulk file brings it (``rhoblob``). Rhodes, in both directions:

* **download**: a blob attribute whose value holds ``://`` is a URL on the server. After a sync of the
  source, and after a bulk sync for every source of the swapped partition, each such file is fetched
  with ``client_id=<id>`` appended to its query string and written to the files folder as
  ``id_<time><counter><ext>`` (the extension from an ``extension=`` query parameter, else from the
  URL's last path part, else ``.bin``); the value becomes the file's local path. A failed download
  leaves the URL in place (it is tried again after the next sync) and fails the source.
* **upload**: a local create or update of a blob attribute holds a local file path; the push turns
  it into a ``multipart/form-data`` POST with a part ``<attr>-<object id>`` per file and the JSON in a
  part named ``cud`` (``outbox.begin_push``, ``Transport.push``).

The files folder is ``<database stem>-files`` beside the database (a temporary folder for an
in-memory database).
"""

from __future__ import annotations

import itertools
import logging
import tempfile
import time
import urllib.parse
from pathlib import Path

from .context import SyncContext
from .exceptions import StoreError
from .fixed import values_table
from .store import Source, Store

__all__ = ["download_blobs", "files_dir", "local_name"]

log = logging.getLogger(__name__)

_counter = itertools.count()
_memory_dir: Path | None = None


def files_dir(store: Store) -> Path:
    """The folder downloaded blobs go to, created on first use."""
    global _memory_dir
    if store.in_memory:
        if _memory_dir is None:
            _memory_dir = Path(tempfile.mkdtemp(prefix="rhoconnect-files-"))
        return _memory_dir
    path = Path(store.path)
    folder = path.with_name(f"{path.stem}-files")
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the files folder {folder}: {exc.strerror or exc}") from exc
    return folder


def local_name(url: str) -> str:
    """``id_<time><counter><ext>``, the extension taken as Rhodes takes it."""
    parts = urllib.parse.urlsplit(url)
    ext = (urllib.parse.parse_qs(parts.query).get("extension") or [""])[0]
    if not ext:
        last = parts.path.rsplit("/", 1)[-1]
        ext = last[last.rfind(".") :] if "." in last else ""
    if not ext:
        ext = ".bin"
    elif not ext.startswith("."):
        ext = "." + ext
    return f"id_{time.strftime('%Y%m%d%H%M%S')}{next(_counter)}{ext}"


def _with_client_id(url: str, client_id: str) -> str:
    return url + ("&" if "?" in url else "?") + "client_id=" + urllib.parse.quote(client_id, safe="")


def download_blobs(ctx: SyncContext, store: Store, source: Source, client_id: str) -> int:
    """Fetch every blob of ``source`` still given as a URL; returns how many files were written."""
    # Read again: the pull may have added attributes the server sent as ``<attr>-rhoblob``.
    source = store.source(source.source_id) or source
    attrs = sorted(source.blob_attributes)
    if not attrs:
        return 0
    marks = ",".join("?" * len(attrs))
    with store.lock:
        rows = store.conn.execute(
            f"SELECT object, attrib, value FROM {values_table(source)} WHERE attrib IN ({marks}) "
            "AND source_id=? AND value LIKE '%://%'",
            (*attrs, source.source_id),
        ).fetchall()
    if not rows:
        return 0
    folder = files_dir(store)
    done = 0
    for object_id, attrib, url in rows:
        ctx.check_stop()
        dest = folder / local_name(url)
        try:
            ctx.transport.download(_with_client_id(url, client_id), dest)
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
        with store.transaction() as conn:
            # Only if the value is still that URL: a newer page or a local write wins.
            conn.execute(
                f"UPDATE {values_table(source)} SET value=? WHERE object=? AND attrib=? AND +source_id=? "
                "AND value=?",
                (str(dest), object_id, attrib, source.source_id, url),
            )
        done += 1
    log.info("%s: %d blob files downloaded", source.name, done)
    return done
