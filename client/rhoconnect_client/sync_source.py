"""The incremental sync algorithm: client id, push before pull, paging with tokens
(docs/protocol.md#when-the-client-creates-or-resets-its-id, docs/protocol.md#query-and-paging,
docs/protocol.md#pushing-local-changes, docs/protocol.md#threads-stop-and-polling).

One :class:`Syncer` runs one ``dosync``/``dosync_source`` command on the sync thread:

1. a session must exist (else ``error`` 7 to the ``-1`` callback);
2. the client id is created (``clientcreate``) or reset (``clientreset``) as
docs/protocol.md#when-the-client-creates-or-resets-its-id says;
3. bulk sync runs first when ``bulksync_state`` is 0 (``bulk``);
4. for each source in ``sync_priority`` order (``bulk_sync_only`` and ``none`` skipped): push the
   outbox, then pull pages until the token is ``""``. The first request of a run never carries a token;
   each later one carries the token just applied, which acknowledges it. A page whose token equals
   the one already stored is a re-send and is not applied again. (After a run that broke off, the
   first request carries the stored token: see ``Syncer.pull``.)

A hostile or broken server cannot keep a pull going forever or flood the store: a page holding far
more objects than asked for, more pages than ``total_count`` and the page size allow, or page after
page without objects fail the source (``paging.PagingGuard``) before anything of that page is applied.

Errors: an error in one source does not stop the others; a 401 clears the session and stops
everything (decision "Sessions and servers"); a stop request ends the command silently (decision "Notification
lifetime"); ``schema-changed`` ends the sync after
that source's pull loop.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from typing import Any

from . import bulk
from .blobs import download_blobs
from .context import SyncContext
from .exceptions import (
    Cancelled,
    HTTPStatusError,
    NotAuthorized,
    RhoconnectError,
    StoreError,
)
from .models import Model
from .notify import (
    FailedSource,
    Status,
    SyncParams,
    adapter_error,
    complete_params,
    error_fields,
    error_params,
    failure_entry,
    no_error,
    source_params,
    with_outcome,
)
from .overlap import PageReader
from .paging import PagingGuard
from .protocol import Page
from .push import push, resolve_uncertain
from .session import drop_session, forget_client, start_session
from .store import AppliedPage, Source, Store

__all__ = ["SourceResult", "Syncer", "apply_and_notify", "release_held_creates"]

log = logging.getLogger(__name__)

# A first load of at least this many objects builds the secondary indexes once at the end.
INITIAL_LOAD_MIN = 5000


@dataclass
class SourceResult:
    """How one source ended: its final notification and whether the whole sync must stop."""

    params: dict[str, Any]
    stop_all: bool = False
    schema_changed: bool = False


class Syncer:
    """Runs one sync command; create one per command."""

    def __init__(self, ctx: SyncContext, query_params: str = "") -> None:
        self.ctx = ctx
        self.query_params = query_params
        # Sources that failed or whose pages carried adapter errors, for the final result.
        self.failures: list[FailedSource] = []

    def _note_failure(self, params: SyncParams) -> None:
        if not any(f["source_name"] == params.get("source_name") for f in self.failures):
            self.failures.append(failure_entry(params))

    # ------------------------------------------------------------------ commands
    def sync_all(self) -> dict[str, Any]:
        client_id = self.prepare()
        if isinstance(client_id, dict):
            return client_id
        for store, source in self.ctx.sync_sources():
            if source.sync_type == "bulk_sync_only":
                continue
            result = self.sync_source(store, source, client_id)
            if result.stop_all or result.schema_changed:
                return result.params
        return self.ctx.global_event(complete_params(self.failures))

    def sync_one(self, name_or_id: str | int) -> dict[str, Any]:
        try:
            source = self.ctx.find_source(name_or_id)[1]
            # The Rhodes C++ client's loadAllSources never gives local-only models (sync_type none) to the
            # sync engine.
            # A bulk_sync_only source IS known to it: sync_all skips it (syncOneSource), but asked for
            # by name, doSyncSource syncs it like any other source.
            if source.sync_type == "none":
                raise StoreError(f"source {source.name!r} does not sync (sync_type none)")
        except RhoconnectError as exc:
            return self._global_error(exc)
        name = source.name
        client_id = self.prepare()
        if isinstance(client_id, dict):
            return client_id
        store, source = self.ctx.find_source(name)  # by name: a bulk file may have renumbered it
        return self.sync_source(store, source, client_id).params

    # ------------------------------------------------------------------ preparation
    # (docs/protocol.md#when-the-client-creates-or-resets-its-id)
    def prepare(self) -> str | dict[str, Any]:
        """Session, client id and a pending bulk sync; returns the client id, or the error to report."""
        try:
            client_id = start_session(self.ctx)
        except Cancelled:
            raise
        except RhoconnectError as exc:
            return self._global_error(exc)
        bulk_error = self.maybe_bulk(client_id)
        return client_id if bulk_error is None else bulk_error

    def maybe_bulk(self, client_id: str) -> dict[str, Any] | None:
        if self.ctx.settings.bulksync_state != 0:
            return None
        return bulk.run_bulk(self.ctx, client_id)

    def _global_error(self, exc: RhoconnectError) -> dict[str, Any]:
        return self.ctx.global_event(error_params(exc))

    # ------------------------------------------------------------------ one source
    def sync_source(self, store: Store, source: Source, client_id: str) -> SourceResult:
        started = time.monotonic()
        state = _Counters()
        try:
            self.ctx.check_stop()
            push(self.ctx, store, source, client_id)
            failed: set[str] = set()
            schema_changed = self.pull(store, source, client_id, state, failed)
            if release_held_creates(store, source, failed):
                # The server processes the creates it held only on our next POST (finding 5).
                push(self.ctx, store, source, client_id)
                schema_changed = self.pull(store, source, client_id, state, failed) or schema_changed
            if resolve_uncertain(self.ctx, store, source, failed):
                # Creates of a broken-off push that never reached the server: send them now.
                push(self.ctx, store, source, client_id)
                schema_changed = self.pull(store, source, client_id, state, failed) or schema_changed
            download_blobs(self.ctx, store, source, client_id)  # blob URLs become local files
        except Cancelled:
            raise
        except RhoconnectError as exc:
            return self._source_failed(store, source, exc, state, started)
        state.record(store, source, started, success=True)
        status: Status = "schema-changed" if schema_changed else "ok"
        params = source_params(
            source, status, total=state.total, processed=state.processed, cumulative=state.cumulative
        )
        params = with_outcome(params, no_error())
        return SourceResult(self.ctx.source_event(source.source_id, params), schema_changed=schema_changed)

    def _source_failed(
        self, store: Store, source: Source, exc: RhoconnectError, state: _Counters, started: float
    ) -> SourceResult:
        stop_all = isinstance(exc, NotAuthorized)
        if stop_all:
            drop_session(self.ctx)  # decision "Sessions and servers": no automatic re-login
        elif isinstance(exc, HTTPStatusError) and exc.unknown_client:
            forget_client(self.ctx)
        log.info("source %s failed: %s", source.name, exc.message)
        state.record(store, source, started, success=False)
        params = source_params(
            source, "error", total=state.total, processed=state.processed, cumulative=state.cumulative
        )
        params = with_outcome(params, error_fields(exc))
        self.failures = [f for f in self.failures if f["source_name"] != source.name]  # the final error
        self._note_failure(params)
        return SourceResult(self.ctx.source_event(source.source_id, params), stop_all=stop_all)

    def pull(self, store: Store, source: Source, client_id: str, state: _Counters, failed: set[str]) -> bool:
        """Pull pages until the token is ``""``; return whether the schema changed
        (docs/protocol.md#acknowledgement-and-paging, docs/protocol.md#schema-change).

        Re-send detection (a page whose token equals the stored one is not applied again) is done by
        ``Store.apply_page`` inside its transaction, against the token stored with the last page.

        The first request of a run carries no token (Rhodes), except after a run that did not reach
        the end: as in Rhodes a stored token of 0 becomes 1 when a run starts, and a finished run
        stores 0 again, so a token other than 0 at the start means the last run broke off (network
        failure, stop, crash). Rhodes then relies on the classic server re-sending the pending page
        when no token comes; RhoConnect 7.8 instead takes "no token" as an acknowledgement and the
        page we never applied would be lost. Sending the stored token works with both: the right
        token acknowledges what we applied, any other makes the server re-send its pending page, and
        without a pending page it is ignored (recorded exchanges errors-29 to errors-32, errors-63).
        """
        current = store.source(source.source_id)
        stored = current.token if current is not None else 0
        send: int | None = stored if stored else None
        if not stored:
            with store.lock:
                store.set_token(source.source_id, 1)
        try:
            return self._pull_pages(store, source, client_id, state, failed, send, deferred_ok=not stored)
        finally:
            if store.indexes_deferred:
                with store.lock:
                    store.build_indexes()

    def _pull_pages(
        self,
        store: Store,
        source: Source,
        client_id: str,
        state: _Counters,
        failed: set[str],
        send: int | None,
        *,
        deferred_ok: bool,
    ) -> bool:
        """The page loop of ``pull``. A run starting from token 0 into an empty source defers the
        secondary indexes until the load ends (``Store.defer_indexes``)."""
        schema_changed = False
        transport = self.ctx.transport
        page_size = self.ctx.settings.page_size
        guard = PagingGuard(page_size, Model(store, source).count())
        reader = PageReader()
        first = True
        try:
            while True:
                self.ctx.check_stop()
                body = transport.query(
                    source.name,
                    client_id=client_id,
                    page_size=page_size,
                    token=send,
                    query_params=self.query_params,
                )
                guard.check_body(body)
                page, applied = reader.read(
                    store, source.source_id, body, functools.partial(_check_page, guard, send)
                )
                if applied is None:
                    self._before_apply(store, source, page, state, failed, first=first and deferred_ok)
                    with store.lock:
                        applied = store.apply_page(source.source_id, page)
                first = False
                self._applied(source, page, applied, state)
                schema_changed = schema_changed or page.schema_changed
                if page.token == 0 or source.pass_through:  # pass_through: one page (Rhodes)
                    return schema_changed
                send = page.token
        finally:
            reader.close()

    def _before_apply(
        self, store: Store, source: Source, page: Page, state: _Counters, failed: set[str], *, first: bool
    ) -> None:
        """What precedes applying a page the usual way: on the first page of a run from token 0 into
        an empty source, the secondary indexes are deferred until the load ends
        (``Store.defer_indexes``); a page with links needs them back first (renaming linked ids in
        child sources looks values up); adapter errors in the page are reported."""
        if first and page.total_count >= INITIAL_LOAD_MIN and not page.links:
            with store.lock:
                store.defer_indexes(source.source_id, page.total_count)
        elif page.links and store.indexes_deferred:
            with store.lock:
                store.build_indexes()
        if page.errors:
            failed.update(page.errors.create)
            self._report_server_errors(source, page, state)

    def _applied(self, source: Source, page: Page, applied: AppliedPage, state: _Counters) -> None:
        """Notifications after a page's commit: its objects, then the progress (a re-sent page,
        already applied, notifies nothing)."""
        if applied.resent:
            log.debug("%s: page %s re-sent, already applied", source.name, page.token)
            return
        notify_objects(self.ctx, source, applied)
        state.add(page)
        if page.count > 0:
            self.ctx.source_event(
                source.source_id,
                source_params(
                    source,
                    "in_progress",
                    total=state.total,
                    processed=state.processed,
                    cumulative=state.cumulative,
                ),
            )

    def _report_server_errors(self, source: Source, page: Page, state: _Counters) -> None:
        """Adapter errors inside a page: ``error`` 8 with ``server_errors``; the sync goes on
        (docs/protocol.md#notification-parameters)."""
        assert page.errors is not None
        params = source_params(
            source, "error", total=page.total_count, processed=state.processed, cumulative=state.cumulative
        )
        params = with_outcome(params, adapter_error(), page.errors.to_notification())
        self._note_failure(params)
        self.ctx.source_event(source.source_id, params)


class _Counters:
    """Notification counters of one source in one sync (decision "Counters in notifications", old Rhodes
    semantics docs/protocol.md#notification-counters)."""

    def __init__(self) -> None:
        self.total = 0
        self.processed = 0
        self.cumulative = 0
        self.inserted = 0
        self.deleted = 0

    def record(self, store: Store, source: Source, started: float, *, success: bool) -> None:
        """Write the run's figures to the ``sources`` row (Rhodes ``last_sync_*`` columns)."""
        with store.lock:
            store.record_sync(
                source.source_id,
                inserted=self.inserted,
                deleted=self.deleted,
                duration=time.monotonic() - started,
                success=success,
            )

    def add(self, page: Page) -> None:
        self.total = page.total_count
        self.processed = page.count
        self.cumulative += page.count
        self.inserted += len(page.insert)
        self.deleted += len(page.delete)


def release_held_creates(store: Store, source: Source, failed: set[str]) -> bool:
    """Queue an empty POST when sent creates are still without a link after paging ended.

    After a failed create RhoConnect stops processing the client's queue: the creates after it get
    neither a link nor an error until the client's next POST to that source, even an empty one
    (errors transcript, finding 5). Creates reported in ``create-error`` during this sync wait for
    the app instead (``on_sync_create_error``) and do not count. Returns True when a POST is queued.

    A create-error the app leaves unanswered from an earlier sync also counts (its error is not
    repeated by the server, so it cannot be told apart from a held create); it costs one empty POST
    and one query per sync until the app resolves it.
    """
    with store.lock:
        waiting = [oid for oid in store.waiting_creates(source.source_id) if oid not in failed]
        if not waiting:
            return False
        store.request_push(source.source_id)
    log.info("%s: %d sent creates have no link yet; posting to release them", source.name, len(waiting))
    return True


def apply_and_notify(ctx: SyncContext, store: Store, source: Source, page: Page) -> bool:
    """Apply one page under the sync mutex, then fire object notifications (after the commit).

    Returns True when the page was a re-send of the one already applied (nothing written).
    """
    with store.lock:
        applied = store.apply_page(source.source_id, page)
    if applied.resent:
        return True
    notify_objects(ctx, source, applied)
    return False


def notify_objects(ctx: SyncContext, source: Source, applied: AppliedPage) -> None:
    """The object notifications of a committed page (created, updated, deleted, links)."""
    ctx.notifier.objects_event(
        source.source_id, applied.created, applied.updated, applied.deleted, applied.links
    )


def _check_page(guard: PagingGuard, sent: int | None, page: Page) -> None:
    """The paging guard's check of a parsed page, before anything of it is applied."""
    guard.check(page, resent=page.token != 0 and page.token == sent)
