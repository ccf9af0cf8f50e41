"""Test helper: an app thread that holds the sync mutex while a sync waits for it, then calls
something that stops the sync (``logout``, ``close``...). That call must return, not deadlock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from rhoconnect_client.engine import SyncEngine


def call_holding_the_mutex(engine: SyncEngine, call: Callable[[], Any], wait: float) -> tuple[bool, Any]:
    """Start a ``dosync`` while holding the mutex, then ``call()`` from that thread.

    Returns whether ``call`` returned within 5 s, and the ``dosync`` handle. On a deadlock the sync
    thread's running command is cleared so the failure is reported instead of hanging the suite.
    """
    returned = threading.Event()
    handles: list[Any] = []

    def app() -> None:
        with engine.sync_mutex():
            handles.append(engine.dosync())
            time.sleep(0.3)  # the sync thread now waits for the mutex
            call()
            returned.set()

    worker = threading.Thread(target=app, daemon=True)
    worker.start()
    ok = returned.wait(5)
    if not ok:
        with engine._thread._cond:
            engine._thread._running = None
            engine._thread._cond.notify_all()
    worker.join(wait)
    return ok, handles[0]
