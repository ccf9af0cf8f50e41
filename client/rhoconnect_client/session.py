"""The session and the client id: how they are obtained, kept, and dropped (on the sync thread).

Every network command starts here. ``run_login`` gets a session cookie and stores it (a new user
resets the local data first); ``start_session`` opens a sync or a search: a stored session is needed,
then a client id, created (``clientcreate``) or reset (``clientreset``) as the stored state asks. The
other helpers are what happens when the session or the client is gone: ``logout`` or a 401 drops
the session (no automatic new login), a 500 "Unknown client" the client id, and another sync
server both (``adopt_server``).

Kept apart from ``sync_source``, ``search`` and ``bulk`` because all three use it, and it decides
what survives each of those events: local changes always do.
"""

from __future__ import annotations

import logging
from typing import Any

from .context import SyncContext
from .exceptions import (
    ERR_NONE,
    ERR_UNEXPECTEDSERVERRESPONSE,
    Cancelled,
    NotAuthorized,
    NotLoggedIn,
    RhoconnectError,
)
from .fixed import values_table
from .notify import ErrorFields, Registration, error_fields, no_error
from .protocol import login_body, parse_client_create
from .registration import register_if_due
from .store import Store

__all__ = [
    "adopt_server",
    "drop_session",
    "drop_synced_data",
    "ensure_client_id",
    "forget_client",
    "run_login",
    "start_session",
]

log = logging.getLogger(__name__)


def run_login(
    ctx: SyncContext, login: str, password: str, registration: Registration | None
) -> dict[str, Any]:
    """Log in and deliver the login callback's parameters (``ErrorFields``): a 200 without a session
    cookie is ``ERR_UNEXPECTEDSERVERRESPONSE``, as in Rhodes."""
    params: ErrorFields
    try:
        session = ctx.transport.login(login_body(login, password))
        if not session:
            params = {
                "error_code": ERR_UNEXPECTEDSERVERRESPONSE,
                "rho_error_code": ERR_UNEXPECTEDSERVERRESPONSE,
                "error_message": "",
            }
        else:
            _store_session(ctx, login, session)
            params = no_error()
    except Cancelled:
        raise
    except RhoconnectError as exc:
        params = error_fields(exc)
    ctx.report({"status": "ok" if params["error_code"] == ERR_NONE else "error", **params})
    return ctx.notifier.deliver(registration, params)


def _store_session(ctx: SyncContext, login: str, session: str) -> None:
    previous = ctx.settings.rho_sync_user
    if previous and previous != login:
        # Rhodes apps reset the data when another user logs in (on_sync_user_changed).
        for _, store in ctx.partitions():  # on the sync thread: a snapshot
            with store.lock:
                store.full_reset()
        if ctx.settings.bulksync_state is not None:
            ctx.settings.bulksync_state = 0  # database_full_reset: the new user's data by bulk
    with ctx.main.lock:
        ctx.main.set_session(session)
    ctx.settings.rho_sync_user = login
    # The session is already stored: a full disk must not turn a good login into an error.
    ctx.settings.save_or_warn("the last user and bulk sync state")
    ctx.transport.session = session


def adopt_server(ctx: SyncContext, server_url: str) -> bool:
    """Make ``server_url`` the sync server; True if the stored client id and session came from
    another one: they are then dropped, also across restarts (the URL is saved with the settings,
    as Rhodes keeps ``syncserver`` in rhoconfig.txt). Runs on the app thread, with no sync running.
    """
    previous = ctx.settings.syncserver or ctx.transport.server_url
    changed = previous.rstrip("/") != server_url.rstrip("/")
    if changed:
        with ctx.main.lock:
            ctx.main.clear_client_info()
        log.info("sync server changed: client id and session dropped")
    if ctx.settings.syncserver != server_url:
        ctx.settings.syncserver = server_url
        ctx.settings.save()
    return changed


def start_session(ctx: SyncContext) -> str:
    """Before any sync or search: a session must exist, then the client id; returns it.

    Raises ``NotLoggedIn`` without a session; a 401 while creating or resetting the client drops
    the session before it propagates.
    """
    info = ctx.main.client_info()
    if not info.session:
        raise NotLoggedIn("not logged in")
    ctx.transport.session = info.session
    try:
        client_id = ensure_client_id(ctx)
    except NotAuthorized:
        drop_session(ctx)
        raise
    register_if_due(ctx, client_id)  # a push pin not yet registered for this client id
    return client_id


def ensure_client_id(ctx: SyncContext) -> str:
    """Create the client id if there is none (Rhodes ``loadClientID``); reset it when the reset flag
    is set."""
    store = ctx.main
    info = store.client_info()
    if not info.client_id:
        client_id = parse_client_create(ctx.transport.client_create())
        for _, other in ctx.partitions():
            drop_synced_data(other)
        with store.lock:
            store.set_client_id(client_id)
        return client_id
    if info.reset:
        ctx.transport.client_reset(info.client_id)
        with store.lock:
            store.set_reset(False)
    return info.client_id


def drop_session(ctx: SyncContext) -> None:
    """Forget the session (``logout``, or a 401: no automatic new login); the client id stays."""
    with ctx.main.lock:
        ctx.main.set_session(None)
    ctx.transport.session = None


def forget_client(ctx: SyncContext) -> None:
    """The server lost our client (500 ``Unknown client``): the next sync creates a new one.

    Rhodes leaves this to the app (``unknown_client?`` then a client reset); doing it here means the
    next sync recovers by itself, and ``ensure_client_id`` then refreshes the local data.
    """
    with ctx.main.lock:
        ctx.main.set_client_id(None)


def drop_synced_data(store: Store) -> None:
    """Before the first sync of a new client id: forget server data, keep every local change.

    A new client starts with an empty client document on the server, which then sends every object
    again; objects the server deleted meanwhile would otherwise stay forever. Objects with a row in
    the outbox (pending creates, updates, deletes) are kept, and tokens go back to 0. Only
    ``incremental`` sources: ``bulk_sync_only`` data comes from bulk files.
    """
    with store.transaction() as conn:
        for src in store.sources():
            if src.sync_type != "incremental":
                continue
            sid = src.source_id
            conn.execute(
                f"DELETE FROM {values_table(src)} WHERE source_id=? AND object NOT IN "
                "(SELECT object FROM changed_values WHERE source_id=?)",
                (sid, sid),
            )
            conn.execute("UPDATE sources SET token=0 WHERE source_id=?", (sid,))
