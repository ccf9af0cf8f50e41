"""Network faults: a delay, a trickled body, a reset connection, a truncated body.

The actions only fill in the pipeline's ``Delivery`` plan; ``deliver`` then writes the answer
the way the plan says, with the raw client socket the WSGI server puts in the environ.

A reset drops the connection with ``SO_LINGER`` (on, 0) so the kernel sends RST (not FIN), and
leaves the WSGI server a harmless spare socket under the same descriptor (see ``_reset``).
"""

from __future__ import annotations

import errno
import os
import random
import socket
import struct
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .model import FaultRule
from .params import (
    BOOLEAN,
    FaultRuleError,
    choice,
    flag_integer,
    flag_number,
    flag_value,
    integer,
    join,
    number,
)
from .registry import ActionKind, Delivery, FaultContext, Flag, register

SOCKET_KEY = "rhoconnect_mock.socket"
MAX_DELAY = 600  # seconds: bounded so a typo cannot park a server thread for hours
MAX_INTERVAL = 60  # seconds between trickled chunks


def delay_seconds(rule: FaultRule) -> float:
    """The delay of a ``delay`` rule: fixed, or drawn from its own seeded generator."""
    params = rule.action.params
    if "seconds" in params:
        return float(params["seconds"])
    rng: random.Random = rule.scratch.setdefault("delay_rng", random.Random(params.get("seed", 0)))
    return rng.uniform(params["min"], params["max"])


def _delay_before(ctx: FaultContext, rule: FaultRule) -> None:
    if rule.action.get("before_handler", False):
        seconds = delay_seconds(rule)
        ctx.delay_before += seconds
        time.sleep(seconds)


def _delay_on_wire(plan: Delivery, rule: FaultRule) -> None:
    if not rule.action.get("before_handler", False):
        plan.delay += delay_seconds(rule)


def _fixed_or_range(params: Mapping[str, Any], where: str) -> None:
    has_fixed = "seconds" in params
    has_range = "min" in params or "max" in params
    if has_fixed == has_range:
        raise FaultRuleError(join(where, "seconds"), "give either seconds, or min and max")
    if has_range:
        if "min" not in params or "max" not in params:
            missing = "max" if "min" in params else "min"
            raise FaultRuleError(join(where, missing), "min and max go together")
        if params["max"] < params["min"]:
            raise FaultRuleError(join(where, "max"), "must be >= min")
    elif "seed" in params:
        raise FaultRuleError(join(where, "seed"), "only goes with min and max")


def _delay_flag(text: str | None) -> dict[str, Any]:
    if text is None:
        raise FaultRuleError("--fail", "delay needs seconds: delay=0.5 or delay=0.1-0.9")
    low, dash, high = text.partition("-")
    if dash:
        return {"min": flag_number(low, "delay min"), "max": flag_number(high, "delay max")}
    return {"seconds": flag_number(text, "delay")}


register(
    ActionKind(
        "delay",
        "Wait this long before answering: seconds, or a random time between min and max "
        "(repeatable with seed); before_handler waits before the handler runs instead.",
        params={
            "seconds": number(0, MAX_DELAY),
            "min": number(0, MAX_DELAY),
            "max": number(0, MAX_DELAY),
            "seed": integer(0),
            "before_handler": BOOLEAN,
        },
        check=_fixed_or_range,
        before=_delay_before,
        wire=_delay_on_wire,
        flags=(Flag("delay", {"type": "delay"}, _delay_flag, "delay=SECONDS|MIN-MAX"),),
    )
)


def _trickle(plan: Delivery, rule: FaultRule) -> None:
    if plan.end("trickled"):
        plan.chunk_size = rule.action.get("chunk_size", 64)
        plan.interval = rule.action.get("interval", 0.05)


def _trickle_flag(text: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if text:
        chunk, slash, interval = text.partition("/")
        params["chunk_size"] = flag_integer(chunk, "trickle chunk size")
        if slash:
            params["interval"] = flag_number(interval, "trickle interval")
    return params


register(
    ActionKind(
        "trickle",
        "Send the body in chunks of chunk_size bytes (default 64), interval seconds apart (default 0.05).",
        params={"chunk_size": integer(1), "interval": number(0, MAX_INTERVAL)},
        wire=_trickle,
        flags=(Flag("trickle", {"type": "trickle"}, _trickle_flag, "trickle[=CHUNK[/SECONDS]]"),),
    )
)


def _reset_on_wire(plan: Delivery, rule: FaultRule) -> None:
    after = rule.action.get("at", "before_headers") == "after_headers"
    plan.end("reset_after_headers" if after else "reset_before_headers")


register(
    ActionKind(
        "reset",
        "Reset the connection (TCP RST) before the status line, or after the headers.",
        params={"at": choice("before_headers", "after_headers")},
        wire=_reset_on_wire,
        flags=(
            Flag("reset", {"type": "reset"}),
            Flag("reset-after-headers", {"type": "reset", "at": "after_headers"}),
        ),
    )
)


def _truncate(plan: Delivery, rule: FaultRule) -> None:
    if plan.end("truncated"):
        plan.keep = rule.action.get("bytes")


register(
    ActionKind(
        "truncate",
        "Send only this many bytes of the body (default half) under the full Content-Length, then close.",
        params={"bytes": integer(0)},
        wire=_truncate,
        flags=(
            Flag("truncate", {"type": "truncate"}, flag_value("bytes", flag_integer), "truncate[=BYTES]"),
        ),
    )
)


# -- on the wire ---------------------------------------------------------------------------------


def body_sent(plan: Delivery, body: bytes) -> bytes:
    """The part of ``body`` the client receives under ``plan``."""
    if plan.ending in ("reset_before_headers", "reset_after_headers"):
        return b""
    if plan.ending == "truncated":
        return body[: len(body) // 2 if plan.keep is None else plan.keep]
    return body


def deliver(
    plan: Delivery,
    environ: dict[str, Any],
    start_response: Any,
    status: str,
    headers: list[tuple[str, str]],
    body: bytes,
) -> Iterable[bytes]:
    """Write ``status``/``headers``/``body`` the way ``plan`` says (after its delay)."""
    if plan.delay:
        time.sleep(plan.delay)
    if plan.ending == "reset_before_headers":
        _reset(environ)
    if plan.ending == "reset_after_headers":
        write = start_response(status, headers)
        write(b"")  # cheroot sends the status line and headers now
        _reset(environ)
    if plan.ending == "truncated":
        return _truncated(start_response(status, headers), body_sent(plan, body))
    start_response(status, headers)
    if plan.ending == "trickled":
        return _trickled(body, plan.chunk_size, plan.interval)
    return [body]


def _reset(environ: dict[str, Any]) -> None:
    sock: socket.socket | None = environ.get(SOCKET_KEY)
    if sock is None:
        raise RuntimeError("connection faults need the rhoconnect-mock WSGI server (no raw socket)")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # Swap a fresh, unconnected socket in under the same descriptor number: the connection's last
    # reference goes away with linger (on, 0), so the kernel sends RST right now, while the server
    # keeps a valid descriptor to shut down and close later (a plain close() would let it shut
    # the real connection down with FIN first, or touch a descriptor number reused elsewhere).
    with socket.socket(sock.family, socket.SOCK_STREAM) as spare:
        os.dup2(spare.fileno(), sock.fileno())
    # cheroot treats ECONNRESET as a client going away: no log, no 500, connection dropped.
    raise ConnectionResetError(errno.ECONNRESET, "connection reset by a fault rule")


def _truncated(write: Any, part: bytes) -> Iterator[bytes]:
    if part:
        yield part
    else:
        write(b"")
    # Stop short of Content-Length; cheroot then closes the connection normally (FIN).
    raise ConnectionAbortedError(errno.ECONNABORTED, "body truncated by a fault rule")


def _trickled(body: bytes, size: int, interval: float) -> Iterator[bytes]:
    for i in range(0, len(body), size):
        if i:
            time.sleep(interval)
        yield body[i : i + size]
