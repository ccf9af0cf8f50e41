"""Pushing the outbox (docs/protocol.md#pushing-local-changes), including pushes whose fate is unknown.

A POST answered 200 succeeded; one answered 4xx was refused (nothing applied, Rhodes rolls the rows
back to unsent). Two outcomes are ambiguous, as the server may have created the objects: a POST that
broke without an answer (connection reset, timeout, or ``stop_sync`` abandoning the request), and
one answered 5xx (a server or proxy may fail after the adapter ran) or with more than the client
reads (the server got the POST; only its answer was refused). Rhodes rolls back and pushes the
creates again, which duplicates them on a server that had applied them: creates are not
idempotent. So for an ambiguous push:

* updates and deletes roll back to unsent (sending them twice is harmless);
* creates go to ``sent=2`` ("waiting for the link") and their ids are remembered as *uncertain*
  (in the settings file, so a restart keeps them);
* after the next complete pull of that source, an uncertain create that got its link is done; one
  that got a ``create-error`` waits for the app as usual; any other never reached the server, is
  rolled back to unsent, and the engine pushes it again within the same sync.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from .context import SyncContext
from .exceptions import Cancelled, HTTPStatusError, ResponseTooLarge, TransportError
from .protocol import push_body
from .store import Source, Store

__all__ = ["push", "resolve_uncertain"]

log = logging.getLogger(__name__)


def push(ctx: SyncContext, store: Store, source: Source, client_id: str) -> None:
    """POST the source's outbox; on failure put the rows back (see the module docstring), re-raise."""
    with store.lock:
        batch = store.begin_push(source.source_id)
    if batch is None:
        return
    body = push_body(source.name, client_id, batch)
    try:
        ctx.transport.push(source.name, client_id, body, batch.blobs or None)
    except (TransportError, Cancelled, ResponseTooLarge):
        # No answer we could read (or we stopped listening): the server may have applied the POST.
        _hold_creates(ctx, store, source, list(batch.create))
        raise
    except HTTPStatusError as exc:
        if exc.status >= 500:  # the server may have failed after applying the POST
            _hold_creates(ctx, store, source, list(batch.create))
        else:
            with store.lock:
                store.push_failed(source.source_id)
        raise
    except BaseException:
        with store.lock:
            store.push_failed(source.source_id)
        raise
    with store.lock:
        store.push_succeeded(source.source_id)


def _hold_creates(ctx: SyncContext, store: Store, source: Source, created: list[str]) -> None:
    # The uncertain ids are saved BEFORE the creates move to state 2: a create in state 2 that no file
    # remembers would wait for a link forever. If the save fails (disk full, read-only folder), or the
    # process dies before the database commit, the rows go back to unsent and are posted again: a
    # possible duplicate on the server, but never a lost change.
    if created:
        held = ctx.settings.uncertain_creates.setdefault(source.name, [])
        held.extend(oid for oid in created if oid not in held)
        try:
            ctx.settings.save()
        except OSError as exc:
            for oid in created:
                held.remove(oid)
            log.warning(
                "%s: cannot record creates of a broken-off push (%s); they will be sent again",
                source.name,
                exc,
            )
            with store.lock:
                store.push_failed(source.source_id)
            return
    with store.lock:
        store.push_interrupted(source.source_id)  # creates wait in state 2, the rest is unsent again
    if created:
        log.info("%s: push broke off; %d creates wait for their links", source.name, len(created))


def resolve_uncertain(ctx: SyncContext, store: Store, source: Source, failed: Iterable[str]) -> bool:
    """After a complete pull: roll back uncertain creates the server never saw; True if any."""
    held = ctx.settings.uncertain_creates.pop(source.name, None)
    if not held:
        return False
    keep = set(failed)  # create-error: the server saw it; the app decides (on_sync_create_error)
    with store.lock:
        # Held creates that got their link were renamed to the server id and are no longer found.
        rolled = store.resend_creates(source.source_id, [oid for oid in held if oid not in keep]) > 0
    # Unsaved, a restart looks for these ids again: harmless, only creates still in state 2 move.
    ctx.settings.save_or_warn("the uncertain creates")
    if rolled:
        log.info("%s: creates the server never received go out again", source.name)
    return rolled
