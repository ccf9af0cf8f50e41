"""Search: one request per round for all listed sources, pages applied like query pages.

Notifications go to the search's own one-shot callback only: ``in_progress`` after each page with
objects and, when ``progress_step > 0``, every ``progress_step`` objects (the page is applied in
chunks of that size, each committed before its notification); finally ``complete`` or ``error``
without source keys. The round loop ends when the objects of a whole answer add up to 0. Every
notification carries ``search_params`` (Rhodes appends
them to the callback parameters).

``server_errors`` of a search (:func:`merge_server_errors`): a search over one source has the
seed's shape, ``server_errors["search-error"]["message"]``. A search over several sources keeps
that ``message`` (the first failing source's, in answer order) and adds, for each such kind,
``server_errors[kind]["sources"][source_name]["message"]`` for every source that reported it, so
that no source's error is lost. Object errors (``create-error``...) are keyed by object id, as in
the seed, and gathered from all sources.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .context import SyncContext
from .exceptions import Cancelled, NotAuthorized, ProtocolError, RhoconnectError
from .notify import (
    Registration,
    SearchParams,
    SyncParams,
    adapter_error,
    complete_params,
    error_params,
    source_params,
    with_outcome,
)
from .protocol import Page, parse_search
from .push import push
from .session import drop_session, start_session
from .store import Source, Store
from .sync_source import apply_and_notify

__all__ = ["SearchRequest", "merge_server_errors", "run_search", "split_page"]

log = logging.getLogger(__name__)


@dataclasses.dataclass
class SearchRequest:
    source_names: Sequence[str]
    from_: str = "search"
    search_params: Mapping[str, Any] | None = None
    offset: int | None = None
    max_results: int | None = None
    progress_step: int = -1
    sync_changes: bool = False


def split_page(page: Page, step: int) -> Iterator[Page]:
    """Cut a page into pages of at most ``step`` inserted objects (deletes, links go first).

    A chunk drops the page's ``raw_insert``: that text holds every object of the page, not the chunk's.
    """
    if step <= 0 or len(page.insert) <= step:
        yield page
        return
    items = list(page.insert.items())
    head = dict(items[:step])
    yield dataclasses.replace(page, insert=head, count=len(head) + len(page.delete), raw_insert=None)
    for start in range(step, len(items), step):
        chunk = dict(items[start : start + step])
        yield dataclasses.replace(
            page,
            insert=chunk,
            delete={},
            links={},
            metadata=None,
            errors=None,
            count=len(chunk),
            schema_changed=False,
            raw_insert=None,
        )


# Kinds whose value is keyed by object id (seed: ``server_errors["create-error"][object]``).
_OBJECT_KINDS = frozenset({"create-error", "update-error", "delete-error", "update-rollback"})


def merge_server_errors(per_source: Mapping[str, Mapping[str, Any]], several: bool) -> dict[str, Any]:
    """One ``server_errors`` hash from each source's own (see the module docstring).

    ``several``: the search listed more than one source, so every message kind gets ``sources``
    (also when only one of them failed: the app can always tell which source it was).
    """
    out: dict[str, Any] = {}
    for name, errors in per_source.items():
        for kind, value in errors.items():
            if kind in _OBJECT_KINDS:
                out.setdefault(kind, {}).update(value)
                continue
            entry = out.setdefault(kind, dict(value))  # the first source's message stays on top
            if several:
                entry.setdefault("sources", {})[name] = dict(value)
    return out


class _Search:
    def __init__(self, ctx: SyncContext, request: SearchRequest, registration: Registration | None) -> None:
        self.ctx = ctx
        self.request = request
        self.registration = registration
        self.cumulative = 0
        self.next_step = request.progress_step if request.progress_step > 0 else 0

    def emit(self, params: SyncParams) -> dict[str, Any]:
        search: SearchParams = {**params, "search_params": dict(self.request.search_params or {})}
        self.ctx.report(search)
        return self.ctx.notifier.deliver(self.registration, search)

    def fail(self, exc: RhoconnectError, server_errors: dict[str, Any] | None = None) -> dict[str, Any]:
        params = error_params(exc)
        if server_errors:
            params = with_outcome(params, adapter_error(params["error_message"]), server_errors)
        return self.emit(params)

    def run(self) -> dict[str, Any]:
        try:
            client_id = start_session(self.ctx)
            listed = [self.ctx.find_source(name) for name in self.request.source_names]
            if self.request.sync_changes:
                for store, source in listed:
                    push(self.ctx, store, source, client_id)
            server_errors = self.rounds(listed, client_id)
        except Cancelled:
            raise
        except RhoconnectError as exc:
            if isinstance(exc, NotAuthorized):
                drop_session(self.ctx)  # a 401 to the search request itself: no automatic new login
            return self.fail(exc)
        if server_errors:
            return self.fail(ProtocolError("search error"), server_errors)
        return self.emit(complete_params())

    def rounds(self, listed: list[tuple[Store, Source]], client_id: str) -> dict[str, Any]:
        by_name = {source.name: (store, source) for store, source in listed}
        tokens: dict[str, int | None] = dict.fromkeys(by_name)
        saved = {source.source_id: source.token for _, source in listed}
        errors: dict[str, dict[str, Any]] = {}  # per source name, in answer order
        try:
            while True:
                self.ctx.check_stop()
                body = self.ctx.transport.search(
                    from_=self.request.from_,
                    client_id=client_id,
                    page_size=self.ctx.settings.page_size,
                    sources=list(tokens.items()),
                    search_params=self.request.search_params,
                    offset=self.request.offset,
                    max_results=self.request.max_results,
                )
                total = 0
                for page in parse_search(body):
                    if page.source not in by_name:
                        raise ProtocolError(f"search answer for unknown source {page.source!r}")
                    store, source = by_name[page.source]
                    if page.errors:
                        errors.setdefault(source.name, {}).update(page.errors.to_notification())
                    self.apply(store, source, page)
                    if page.token:
                        tokens[source.name] = page.token
                    total += page.count
                if total == 0 or errors:
                    return merge_server_errors(errors, several=len(by_name) > 1)
        finally:
            # Rhodes resets the tokens to 0; restoring them keeps the query paging state (a token
            # other than 0 marks an unfinished query run, see ``Syncer.pull``).
            for store, source in listed:
                with store.lock:
                    store.set_token(source.source_id, saved[source.source_id])

    def apply(self, store: Store, source: Source, page: Page) -> None:
        """Apply a page (in ``progress_step`` chunks); notify at each step and at the page's end."""
        step = self.request.progress_step
        chunks = list(split_page(page, step))
        for index, chunk in enumerate(chunks):
            # Search tokens repeat across rounds (recorded exchanges main-19 to main-20) and are kept in
            # memory;
            # applied with token 1 the store neither mistakes a chunk for a re-send nor purges.
            apply_and_notify(self.ctx, store, source, dataclasses.replace(chunk, token=1))
            self.cumulative += chunk.count
            crossed = step > 0 and self.cumulative >= self.next_step
            if chunk.count > 0 and (crossed or index == len(chunks) - 1):
                while step > 0 and self.next_step <= self.cumulative:
                    self.next_step += step
                self.emit(
                    source_params(
                        source,
                        "in_progress",
                        total=page.total_count,
                        processed=chunk.count,
                        cumulative=self.cumulative,
                    )
                )


def run_search(ctx: SyncContext, request: SearchRequest, registration: Registration | None) -> dict[str, Any]:
    """Run one search command on the sync thread; return its final parameters."""
    return _Search(ctx, request, registration).run()
