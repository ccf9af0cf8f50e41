"""Push registration (``clientregister``, docs/protocol.md#clientregister): tell the server where to push.

Rhodes registers the device after login and again whenever the push pin changes: the pin and port
are kept in ``client_info`` (``token``, ``port``) with ``token_sent`` 1 once the server accepted
them. Here the registration runs on the sync thread after a login, at the start of every sync while
it is still due (Rhodes retries every 60 s; a sync is the natural retry point here), and at once when
the app gives a new pin. A failed registration never fails the login or the sync it rides on: it is
logged and tried again next time.

Body keys and order as Rhodes sends them: ``client_id``, ``device_pin``, ``device_port``,
``device_type``, then ``device_push_type`` only when set (``phone_id`` is never sent: this client has
no phone id).
"""

from __future__ import annotations

import json
import logging

from . import checks
from .context import SyncContext
from .exceptions import Cancelled, RhoconnectError

__all__ = ["DEFAULT_PUSH_PORT", "register_body", "register_if_due", "remember"]

log = logging.getLogger(__name__)

DEFAULT_PUSH_PORT = "100"  # Rhodes ClientRegister DEFAULT_PUSH_PORT


def register_body(client_id: str, pin: str, port: str, device_type: str, push_type: str) -> bytes:
    body = {"client_id": client_id, "device_pin": pin, "device_port": port, "device_type": device_type}
    if push_type:
        body["device_push_type"] = push_type
    return json.dumps(body, separators=(",", ":")).encode()


def register_if_due(ctx: SyncContext, client_id: str) -> bool:
    """Send the registration if a pin is set and not yet accepted for this client id; True if sent."""
    info = ctx.main.client_info()
    if not info.token or info.token_sent:
        return False
    body = register_body(
        client_id,
        info.token,
        info.port or DEFAULT_PUSH_PORT,
        ctx.settings.device_type,
        ctx.settings.push_type,
    )
    try:
        ctx.transport.client_register(client_id, body)
    except Cancelled:
        raise
    except RhoconnectError as exc:
        log.warning("push registration failed (%s); it is tried again at the next sync", exc.message)
        return False
    with ctx.main.lock:
        ctx.main.mark_token_sent(info.token)
    log.info("registered push pin for client %s", client_id)
    return True


def remember(ctx: SyncContext, token: str | None, device_type: str, port: int | str, push_type: str) -> bool:
    """Store the push pin and port (``client_info``) and the device fields (settings); True when the
    pin or port changed, so that a registration is due again.

    ``device_type`` is the platform name the server records (Rhodes sends e.g. ``ANDROID`` or
    ``APPLE``); ``push_type`` the push service (``rhoconnect_push``, ``gcm``...), not sent when empty.
    """
    checks.text("device_type", device_type)
    if token is not None:
        checks.text("token", token)
    ctx.settings.device_type = device_type
    ctx.settings.push_type = str(push_type or "")
    with ctx.main.lock:
        return ctx.main.set_push_token(token, str(port))
