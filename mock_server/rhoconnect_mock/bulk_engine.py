"""Bulk sync: build bulk files per (partition, user), answer ``wait``/``nop``/``url``, hand over.

RhoConnect 7.8 builds bulk files in a background job per (partition, user) and answers
``{"result":"wait"}`` until the job is done, then ``{"result":"url","url":...}``. The mock builds
the file at once (it takes about a second for 100,000 objects) but still answers ``wait`` for the
first ``bulk_wait_polls`` polls, so clients exercise their wait loop. A finished file is reused
until the data of a requested source change (the master document's version), a fixed schema's
version changes, the requested sources change, or the state is reset.

As on the real server: ``nop`` when the partition has no sources; when a requested source has a
stored ``source-error`` (or its simulated adapter fails while the file is built) the answer is
``{"result":"url","url":""}`` once and the files are deleted, so the next call waits again; a
finished file is checked for such errors before anything else, so that answer comes at once;
handing out a url makes the client's documents match the file, so the following query does not
send the same objects again (RhoConnect's ``update_clientdoc``).

Jobs are plain data in the ``Store``; the files live in one folder (``BulkFiles``), which several
processes sharing a store must share too. The data are snapshotted inside a store transaction and
the files written outside it, under a per-(partition, user) lock, so other clients keep syncing
while a file is built.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from . import masters
from .bulkfile import BulkSource, build_bulk_files
from .config import MockConfig
from .store import BulkJob, BulkKey, Client, SourceSpec, Store

log = logging.getLogger(__name__)

#: Seconds added to the build time for ``backend_refresh_time`` of a requested source: the
#: real server writes its next poll time (the recorded Product source polls every 300 s).
DEFAULT_POLL_INTERVAL = 300
_URI_SAFE = "-_.!~*'();/?:@&=+$,[]"


class BulkFiles:
    """The folder bulk files are written to (a temporary one, deleted with it, unless configured),
    and the locks that keep two builds for the same (partition, user) apart."""

    def __init__(self, folder: Path | None) -> None:
        owned = folder is None
        self.folder = Path(tempfile.mkdtemp(prefix="rhoconnect-bulk-")) if folder is None else Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._key_locks: dict[BulkKey, threading.Lock] = {}
        if owned:
            # A temporary folder of our own goes away with the state.
            weakref.finalize(self, shutil.rmtree, self.folder, True)

    def key_lock(self, key: BulkKey) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def delete(self, job: BulkJob | None) -> None:
        """Delete a job's files (already gone: nothing to do)."""
        for name in job.files if job is not None else ():
            with contextlib.suppress(FileNotFoundError):
                Path(name).unlink()

    def clear(self) -> None:
        """Delete every file and folder in the bulk folder (the state was reset)."""
        for child in self.folder.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)

    def path(self, app_name: str, partition: str, user: str, ts: int) -> Path:
        """Where the ``.data`` file of a build goes (its ``.rzip``/``.gzip`` lie next to it)."""
        app_dir = self.folder / _path_name(app_name)
        if partition == "user":
            return app_dir / _path_name(user) / f"{_path_name(user)}_{ts}.data"
        return app_dir / f"{_path_name(app_name)}_{ts}.data"

    def url(self, path: Path) -> str:
        return quote("/data/" + path.relative_to(self.folder).as_posix(), safe=_URI_SAFE)


def _path_name(name: str) -> str:
    # One path segment on disk; "." and ".." and slashes must not become directories.
    escaped = quote(name, safe=" -_.!~*'()@+,;=$&")
    return escaped.replace(".", "%2E") if set(escaped) == {"."} else escaped


def requested_sources(
    sources: Mapping[str, SourceSpec], partition: str, asked: Sequence[str] | None
) -> list[str]:
    """The known sources a request asked for (``None``: every source of the partition)."""
    if asked is None:
        return [name for name, spec in sources.items() if spec.partition == partition]
    return [name for name in asked if name in sources]


def drop_job(store: Store, files: BulkFiles, key: BulkKey) -> None:
    """Forget a job and delete its files."""
    with store.transaction():
        job = store.drop_bulk_job(key)
    files.delete(job)


def build(
    store: Store,
    config: MockConfig,
    files: BulkFiles,
    partition: str,
    user: str,
    requested: Sequence[str],
    previous: BulkJob | None,
) -> BulkJob:
    """Snapshot the data (inside a store transaction) and write the file set (outside it)."""
    sources: list[BulkSource] = []
    job_masters: dict[str, tuple[int, int]] = {}
    build_errors: dict[str, dict[str, Any]] = {}
    owner = user if partition == "user" else None
    now = int(time.time())
    built_at = now if previous is None else max(now, previous.built_at + 1)  # a fresh url each time
    with store.transaction():
        generation = store.generation()
        specs = [spec for spec in store.sources().values() if spec.partition == partition]
        for spec in specs:
            selected = spec.name in requested
            records: dict[str, Any] = {}
            if selected:
                # The real job runs each requested source's query before writing the file; a
                # simulated failure there becomes the source error that empties the url.
                failure = masters.adapter_failure(store, spec.name, user)
                if failure is not None:
                    build_errors[spec.name] = failure
                else:
                    masters.refresh_view(store, config, spec, user)  # the query runs when it is due
                # What clients see: the cached master document of a source with a poll interval.
                md = masters.view(store, config, spec.name, owner)
                records = dict(md.records)
                job_masters[spec.name] = (md.version, md.end)
            # A configured poll interval is the next poll time; without one, the recorded one.
            poll = (spec.poll_interval or DEFAULT_POLL_INTERVAL) if selected else 0
            sources.append(
                BulkSource(
                    name=spec.name,
                    partition=partition,
                    priority=spec.priority,
                    records=records,
                    selected=selected,
                    schema=spec.schema,
                    metadata=spec.metadata_json(),
                    refresh_time=built_at + int(poll or 0),
                )
            )
        schema_versions = {spec.name: spec.schema_version for spec in specs}
    path = files.path(config.app_name, partition, user, built_at)
    built = build_bulk_files(path, sources, built_at=built_at)
    return BulkJob(
        url=files.url(path),
        files=(str(built.data), str(built.rzip), str(built.gzip)),
        requested=tuple(requested),
        masters=job_masters,
        built_at=built_at,
        waits_left=config.bulk_wait_polls,
        build_errors=build_errors,
        schema_versions=schema_versions,
        generation=generation,
    )


def still_current(store: Store, config: MockConfig, job: BulkJob, user: str, partition: str) -> bool:
    """Whether the job's files still hold what a client of ``user`` would be given now."""
    owner = user if partition == "user" else None
    with store.transaction():
        if job.generation != store.generation():
            return False
        for name, written in job.schema_versions.items():
            # RhoConnect expires bulk data when a schema changes.
            spec = store.source(name)
            if spec is None or spec.schema_version != written:
                return False
        for name, (version, end) in job.masters.items():
            if store.source(name) is None:
                return False
            current = masters.view(store, config, name, owner)
            if current.version != version or current.end != end:
                return False
    return all(Path(name).exists() for name in job.files[:2])


def hand_over(store: Store, client: Client, job: BulkJob) -> None:
    """The client now holds what the file holds: later queries send only what changed since."""
    with store.transaction():
        client = store.client(client.id) or client
        for name, (_version, end) in job.masters.items():
            doc = client.doc(name)
            doc.cursor = end
            doc.overlay = {}
            doc.requeue_links()  # RhoConnect's update_clientdoc leaves the links page alone
            doc.pending = None
            # The version written into the file, not the current one: a schema changed since the
            # build (between the freshness check and here) then still gives schema-changed.
            doc.schema_seen = job.schema_versions.get(name)
        store.put_client(client)


def bulk_answer(
    store: Store,
    config: MockConfig,
    files: BulkFiles,
    client: Client,
    partition: str,
    requested: Sequence[str],
    asked_nothing: bool,
) -> dict[str, str]:
    """The ``bulk_data`` answer for ``client`` (``wait``, ``nop`` or ``url``).

    ``requested``: the known sources asked for (every source of the partition when the request
    named none); ``asked_nothing``: the request named an empty list, which RhoConnect answers
    with ``nop``.
    """
    user = client.user
    with store.transaction():
        names = [name for name, spec in store.sources().items() if spec.partition == partition]
    if not names or asked_nothing:
        return {"result": "nop"}
    key = (partition, user if partition == "user" else "")
    with files.key_lock(key):
        with store.transaction():
            job = store.bulk_job(key)
        previous = job
        owner = user if partition == "user" else None
        if job is not None and job.waits_left <= 0 and all(Path(f).exists() for f in job.files[:2]):
            # A finished file exists: RhoConnect looks at the stored source errors before it
            # considers building again, so an error empties the url at once.
            failing = _failing_source(store, job, requested, owner)
            if failing is not None:
                log.info("bulk data for %s: source %s has errors; files deleted", user, failing)
                drop_job(store, files, key)
                return {"result": "url", "url": ""}
        if job is not None and (
            set(job.requested) != set(requested) or not still_current(store, config, job, user, partition)
        ):
            drop_job(store, files, key)
            job = None
        if job is None:
            job = build(store, config, files, partition, user, requested, previous)
        with store.transaction():
            if job.waits_left > 0:
                job.waits_left -= 1
                store.put_bulk_job(key, job)
                return {"result": "wait"}
            store.put_bulk_job(key, job)
            failing = _failing_source(store, job, requested, owner)
            if failing is not None:
                log.info("bulk data for %s: source %s has errors; files deleted", user, failing)
                drop_job(store, files, key)
                return {"result": "url", "url": ""}
        hand_over(store, client, job)
        return {"result": "url", "url": job.url}


def _failing_source(store: Store, job: BulkJob, requested: Sequence[str], owner: str | None) -> str | None:
    """The first requested source with a stored ``source-error`` (or one from the file's build)."""
    with store.transaction():
        for name in requested:
            spec = store.source(name)
            if (spec and store.source_error(spec.owner(owner))) or job.build_errors.get(name):
                return name
    return None
