"""Bulk sync: ``bulk_data`` in both URL families and the bulk file downloads under ``/data/``.

RhoConnect 7.8 builds bulk files in a background job per (partition, user) and answers
``{"result":"wait"}`` until the job is done, then ``{"result":"url","url":...}`` (recorded exchanges
errors-03, errors-04, errors-48 to errors-50 and errors-83, errors-84). The mock builds the file at
once (it takes about a second for 100,000 objects) but still answers ``wait`` for the first
``bulk_wait_polls`` polls, so clients exercise their wait loop. A finished file is reused until the
data of a requested source change (``master_version``), a fixed schema's version changes, the
requested sources change, or the state is reset.

As on the real server: ``nop`` when the partition has no sources; when a requested source has
a stored ``source-error`` (or its simulated adapter fails while the file is built) the answer is
``{"result":"url","url":""}`` once and the files are deleted, so the next call waits again
(recorded exchanges errors-48 to errors-50); handing out a url makes the client's documents match the file, so
the following
query does not send the same objects again (RhoConnect's ``update_clientdoc``).

Downloads need no login (as recorded) and are confined to the bulk folder: any path that does
not resolve to a regular file inside it is a 404, whatever encoding or symlink it uses.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Flask, Response, current_app, request
from flask.blueprints import BlueprintSetupState
from werkzeug.http import http_date
from werkzeug.wsgi import wrap_file

from ..bulkfile import BulkSource, build_bulk_files
from ..state import Client, MockState
from .common import (
    NOT_FOUND_BODY,
    info,
    json_response,
    operation,
    params,
    require_client,
    source_names,
    state,
    text_response,
)

log = logging.getLogger(__name__)

EXTENSION_KEY = "rhoconnect_mock.bulk"
#: Seconds added to the build time for ``backend_refresh_time`` of a requested source: the
#: real server writes its next poll time (the transcript's Product polls every 300 s).
DEFAULT_POLL_INTERVAL = 300
_URI_SAFE = "-_.!~*'();/?:@&=+$,[]"
_CONTENT_TYPES = {
    ".data": "application/octet-stream",
    ".rzip": "text/plain",
    ".gzip": "application/octet-stream",
}

bp = Blueprint("bulk", __name__)
classic_bp = Blueprint("classic_bulk", __name__)


@dataclass
class BulkJob:
    """One built bulk file set for a (partition, owner), and what it was built from."""

    url: str
    files: tuple[Path, ...]
    requested: tuple[str, ...]
    #: source -> (master document object, its version, its log end) when the file was built
    masters: dict[str, tuple[object, int, int]]
    built_at: int
    waits_left: int
    build_errors: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: source -> fixed schema version written into the file (every source of the partition)
    schema_versions: dict[str, str | None] = field(default_factory=dict)


class BulkRegistry:
    """The bulk jobs and folder of one app (``app.extensions["rhoconnect_mock.bulk"]``)."""

    def __init__(self, folder: Path | None) -> None:
        self._owned = folder is None
        self.folder = Path(tempfile.mkdtemp(prefix="rhoconnect-bulk-")) if folder is None else Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.jobs: dict[tuple[str, str], BulkJob] = {}
        self.lock = threading.Lock()
        self._key_locks: dict[tuple[str, str], threading.Lock] = {}
        if self._owned:
            # A temporary folder of our own goes away with the app.
            weakref.finalize(self, shutil.rmtree, self.folder, True)

    def key_lock(self, key: tuple[str, str]) -> threading.Lock:
        with self.lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def drop(self, key: tuple[str, str]) -> None:
        """Forget a job and delete its files."""
        with self.lock:
            job = self.jobs.pop(key, None)
        if job is not None:
            for path in job.files:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def clear(self) -> None:
        """Delete every job and file (the state was reset)."""
        with self.lock:
            keys = list(self.jobs)
        for key in keys:
            self.drop(key)
        for child in self.folder.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)


def install(app: Flask) -> BulkRegistry:
    """Give ``app`` its bulk registry and have a state reset delete the bulk files too."""
    existing: BulkRegistry | None = app.extensions.get(EXTENSION_KEY)
    if existing is not None:
        return existing
    st: MockState = app.extensions["rhoconnect_mock"]
    registry = BulkRegistry(st.config.bulk_dir)
    app.extensions[EXTENSION_KEY] = registry
    st.add_reset_listener(registry.clear)
    return registry


def _on_register(setup: BlueprintSetupState) -> None:
    app = setup.app
    if isinstance(app, Flask):
        install(app)


bp.record_once(_on_register)
classic_bp.record_once(_on_register)


def registry() -> BulkRegistry:
    """This app's bulk registry."""
    return install(current_app)


# --------------------------------------------------------------------------- bulk_data


def _path_name(name: str) -> str:
    # One path segment on disk; "." and ".." and slashes must not become directories.
    escaped = quote(name, safe=" -_.!~*'()@+,;=$&")
    return escaped.replace(".", "%2E") if set(escaped) == {"."} else escaped


def _owner_key(partition: str, user: str) -> tuple[str, str]:
    return (partition, user if partition == "user" else "")


def _file_path(reg: BulkRegistry, app_name: str, partition: str, user: str, ts: int) -> Path:
    app_dir = reg.folder / _path_name(app_name)
    if partition == "user":
        return app_dir / _path_name(user) / f"{_path_name(user)}_{ts}.data"
    return app_dir / f"{_path_name(app_name)}_{ts}.data"


def _url_for(reg: BulkRegistry, path: Path) -> str:
    return quote("/data/" + path.relative_to(reg.folder).as_posix(), safe=_URI_SAFE)


def _adapter_failure(st: MockState, source: str, user: str) -> dict[str, Any] | None:
    # The real job runs each requested source's query (login, query, logoff) before writing
    # the file; a simulated failure there becomes the source error that empties the url.
    for stage in ("login", "query", "logoff"):
        message = st.failures.check(stage, source, user)
        if message is not None:
            return {f"{stage}-error": {"message": message}}
    return None


def _build(
    st: MockState,
    reg: BulkRegistry,
    partition: str,
    user: str,
    requested: Sequence[str],
    previous: BulkJob | None,
) -> BulkJob:
    """Snapshot the data (under the state lock) and write the file set (outside it)."""
    names = [name for name, spec in st.sources.items() if spec.partition == partition]
    now = int(time.time())
    built_at = now if previous is None else max(now, previous.built_at + 1)  # a fresh url each time
    sources: list[BulkSource] = []
    masters: dict[str, tuple[object, int, int]] = {}
    build_errors: dict[str, dict[str, Any]] = {}
    owner = user if partition == "user" else None
    for name in names:
        spec = st.sources[name]
        selected = name in requested
        records: dict[str, Any] = {}
        if selected:
            failure = _adapter_failure(st, name, user)
            if failure is not None:
                build_errors[name] = failure
            with st.lock:
                if failure is None:
                    st.refresh_view(spec, user)  # the bulk job runs the query when it is due
                # What clients see: the cached master document of a source with a poll interval.
                md = st.view(name, owner)
                records = dict(md.records)
                masters[name] = (md, md.version, md.end)
        # A configured poll interval is the next poll time; without one, as before, the transcript's.
        poll = (spec.poll_interval or DEFAULT_POLL_INTERVAL) if selected else 0
        sources.append(
            BulkSource(
                name=name,
                partition=partition,
                priority=spec.priority,
                records=records,
                selected=selected,
                schema=spec.schema,
                metadata=spec.metadata_json(),
                refresh_time=built_at + int(poll or 0),
            )
        )
    path = _file_path(reg, st.config.app_name, partition, user, built_at)
    files = build_bulk_files(path, sources, built_at=built_at)
    return BulkJob(
        url=_url_for(reg, path),
        files=(files.data, files.rzip, files.gzip),
        requested=tuple(requested),
        masters=masters,
        built_at=built_at,
        waits_left=st.config.bulk_wait_polls,
        build_errors=build_errors,
        schema_versions={name: st.sources[name].schema_version for name in names},
    )


def _still_current(st: MockState, job: BulkJob, user: str, partition: str) -> bool:
    owner = user if partition == "user" else None
    with st.lock:
        for name, written in job.schema_versions.items():
            # RhoConnect expires bulk data when a schema changes.
            spec = st.sources.get(name)
            if spec is None or spec.schema_version != written:
                return False
        for name, (md, version, _end) in job.masters.items():
            if name not in st.sources:
                return False
            current = st.view(name, owner)
            if current is not md or current.version != version:
                return False
    return all(path.exists() for path in job.files[:2])


def _hand_over(st: MockState, client: Client, job: BulkJob) -> None:
    """The client now holds what the file holds: later queries send only what changed since."""
    with st.lock:
        for name, (_md, _version, end) in job.masters.items():
            doc = client.doc(name)
            doc.cursor = end
            doc.overlay = {}
            doc.requeue_links()  # RhoConnect's update_clientdoc leaves the links page alone
            doc.pending = None
            # The version written into the file, not the current one: a schema changed since the
            # build (between the freshness check and here) then still gives schema-changed.
            doc.schema_seen = job.schema_versions.get(name)


def bulk_answer(client: Client, partition: str, raw_sources: Any) -> dict[str, str]:
    """The ``bulk_data`` answer for ``client`` (``wait``, ``nop`` or ``url``)."""
    st = state()
    reg = registry()
    user = client.user
    names = [name for name, spec in st.sources.items() if spec.partition == partition]
    asked = source_names(raw_sources)
    requested = names if asked is None else [n for n in asked if n in st.sources]
    info().sources = list(requested)
    if not names or (asked is not None and not asked):
        return {"result": "nop"}
    key = _owner_key(partition, user)
    with reg.key_lock(key):
        job = reg.jobs.get(key)
        if job is not None and (
            set(job.requested) != set(requested) or not _still_current(st, job, user, partition)
        ):
            reg.drop(key)
            previous: BulkJob | None = job
            job = None
        else:
            previous = job
        if job is None:
            job = _build(st, reg, partition, user, requested, previous)
            with reg.lock:
                reg.jobs[key] = job
        if job.waits_left > 0:
            job.waits_left -= 1
            return {"result": "wait"}
        owner = user if partition == "user" else None
        for name in requested:
            errors = st.source_errors(name, owner) or job.build_errors.get(name)
            if errors:
                log.info("bulk data for %s: source %s has errors %s; files deleted", user, name, errors)
                reg.drop(key)
                return {"result": "url", "url": ""}
        _hand_over(st, client, job)
        return {"result": "url", "url": job.url}


def _respond(answer: dict[str, str]) -> Response:
    # Compact, and in the recorded key order: result first, then url.
    return json_response(json.dumps(answer, separators=(",", ":")).encode("utf-8"))


@operation("bulk_data")
def bulk_data() -> Response:
    """``POST /rc/v1/app/bulk_data`` with ``{"client_id", "partition", "sources": [...]}``, or
    classic ``GET <prefix>/bulk_data?client_id=..&partition=user|app[&sources=A,B]``."""
    client = require_client()
    p = params()
    return _respond(bulk_answer(client, str(p.get("partition") or ""), p.get("sources")))


bp.add_url_rule("/rc/v1/app/bulk_data", "bulk_data", bulk_data, methods=["POST"])
classic_bp.add_url_rule("/bulk_data", "bulk_data", bulk_data, methods=["GET"])


# --------------------------------------------------------------------------- downloads


def confined_file(folder: Path, subpath: str) -> Path | None:
    """The regular file ``subpath`` names inside ``folder``, or ``None`` for anything else.

    ``subpath`` arrives percent-decoded. Dot segments, empty segments, backslashes and NULs are
    refused outright; what remains is resolved (following symlinks) and must still lie inside
    the folder, so a symlink pointing out is refused too.
    """
    parts = subpath.split("/")
    if any(p in ("", ".", "..") or "\\" in p or "\x00" in p for p in parts):
        return None
    root = folder.resolve()
    try:
        target = root.joinpath(*parts).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not target.is_relative_to(root) or not target.is_file():
        return None
    return target


@bp.get("/data/<path:subpath>")
@operation("bulk_file")
def download(subpath: str) -> Response:
    """A bulk file: ``.data`` (SQLite), ``.data.rzip`` (zip), ``.data.gzip``; no login needed."""
    target = confined_file(registry().folder, subpath)
    content_type = _CONTENT_TYPES.get(target.suffix) if target is not None else None
    if target is None or content_type is None:
        return text_response(NOT_FOUND_BODY, 404)
    # Built by hand rather than with send_file: RhoConnect sends no Content-Disposition or
    # Cache-Control on these, and text/plain must not gain a charset.
    stat = target.stat()
    handle = target.open("rb")
    resp = Response(wrap_file(request.environ, handle), direct_passthrough=True)
    resp.headers["Content-Type"] = content_type
    resp.headers["Content-Length"] = str(stat.st_size)
    resp.headers["Last-Modified"] = http_date(stat.st_mtime)
    return resp
