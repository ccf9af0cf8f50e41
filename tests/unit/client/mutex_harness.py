"""Test helpers around the sync mutex: knowing that the sync thread waits for it, and an app thread
that holds it while a sync waits, then calls something that stops the sync (``logout``,
``close``...). That call must return, not deadlock."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from rhoconnect_client.engine import SyncEngine


class WatchedLock:
    """The user store's lock, which also tells when another thread has to wait for it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.contended = threading.Event()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self.inner.acquire(blocking=False):  # free, or held by this very thread (re-entrant)
            return True
        self.contended.set()
        return bool(self.inner.acquire(blocking, timeout))

    def release(self) -> None:
        self.inner.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def watched_mutex(engine: SyncEngine) -> Iterator[threading.Event]:
    """An event set once a thread waits for the user store's lock (held by the sync mutex)."""
    store = engine.stores["user"]
    inner = store.lock
    watched = WatchedLock(inner)
    store.lock = watched  # type: ignore[assignment]
    try:
        yield watched.contended
    finally:
        store.lock = inner  # the same lock underneath: a thread inside it releases it either way


def call_holding_the_mutex(engine: SyncEngine, call: Callable[[], Any], wait: float) -> tuple[bool, Any]:
    """Start a ``dosync`` while holding the mutex, wait until the sync thread waits for it, then
    ``call()`` from that thread.

    Returns whether ``call`` returned within 5 s, and the ``dosync`` handle. On a deadlock the sync
    thread's running command is cleared so the failure is reported instead of hanging the suite.
    """
    returned = threading.Event()
    handles: list[Any] = []

    with watched_mutex(engine) as sync_waits:

        def app() -> None:
            with engine.sync_mutex():
                handles.append(engine.dosync())
                if sync_waits.wait(wait):  # the sync thread now waits for the mutex
                    call()
                    returned.set()

        worker = threading.Thread(target=app, daemon=True)
        worker.start()
        ok = returned.wait(5 + wait)
        if not ok:
            with engine._thread._cond:
                engine._thread._running = None
                engine._thread._cond.notify_all()
        worker.join(wait)
    return ok, handles[0]
