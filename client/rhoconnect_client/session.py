"""Login on the sync thread (docs/protocol.md#login): get a session, store it, handle a change of user.

Kept apart from ``engine`` (which only queues the command) because it is a small algorithm of its
own: what a successful login writes, in what order, and what a new user resets.
"""

from __future__ import annotations

from typing import Any

from .context import SyncContext
from .exceptions import Cancelled, RhoconnectError
from .notify import Registration, error_fields
from .protocol import login_body

__all__ = ["run_login"]


def run_login(
    ctx: SyncContext, login: str, password: str, registration: Registration | None
) -> dict[str, Any]:
    """Log in and deliver the login callback's parameters (exactly ``error_code``/``error_message``,
    plus ``rho_error_code``, decision "error_code"); a 200 without a session cookie is error 4."""
    params: dict[str, Any]
    try:
        session = ctx.transport.login(login_body(login, password))
        if not session:
            params = {"error_code": 4, "rho_error_code": 4, "error_message": ""}
        else:
            _store_session(ctx, login, session)
            params = {"error_code": 0, "rho_error_code": 0, "error_message": ""}
    except Cancelled:
        raise
    except RhoconnectError as exc:
        params = error_fields(exc)
    ctx.report({"status": "ok" if params["error_code"] == 0 else "error", **params})
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
