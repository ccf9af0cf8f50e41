"""Session faults: a session that expires a given number of requests after its login.

``expire_session`` empties the session before the handler, so the protocol layer answers its
own 401 ``Not authenticated``. Which request that is depends on the rule's count of the user's
requests since their login (kept by ``FaultRule.consider``).
"""

from __future__ import annotations

from typing import Any

import flask

from .model import FaultRule
from .params import flag_integer, integer
from .registry import ActionKind, FaultContext, Flag, register


def _expire(ctx: FaultContext, rule: FaultRule) -> None:
    # modified=False keeps Flask from sending a cookie deletion the real server would not send.
    flask.session.clear()
    flask.session.modified = False
    ctx.rc.user = None


def _lifetime(text: str | None) -> dict[str, Any]:
    return {"after": flag_integer(text or "", "expire-session")}


register(
    ActionKind(
        "expire_session",
        "Expire a user's session this many requests after that user's login (the next one gets "
        "the real 401).",
        params={"after": integer(0)},
        required=("after",),
        before=_expire,
        flags=(Flag("expire-session", {"type": "expire_session"}, _lifetime, "expire-session=N"),),
    )
)
