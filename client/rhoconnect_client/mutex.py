"""The sync mutex (Rhodes ``lock_sync_mutex``): the app's hold on every partition store's lock.

The sync thread takes a store's lock for each page apply and each outbox state change, so an app
holding all of them keeps its batch of writes from interleaving with a sync. Each ``acquire``
remembers the stores it locked (per thread, re-entrant): a partition opened while the mutex is held
is not released by the matching ``release`` without having been acquired.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from .store import Store

__all__ = ["SyncMutex"]


class SyncMutex:
    """Locks every store of ``stores`` (a live mapping: partitions may be added later)."""

    def __init__(self, stores: Mapping[str, Store]) -> None:
        self._stores = stores
        self._held = threading.local()

    def _stack(self) -> list[list[Store]]:
        stack: list[list[Store]] | None = getattr(self._held, "stack", None)
        if stack is None:
            stack = self._held.stack = []
        return stack

    def acquire(self) -> None:
        locked = list(self._stores.values())
        for store in locked:
            store.lock.acquire()
        self._stack().append(locked)

    def held_here(self) -> bool:
        """True when the calling thread holds the mutex (the sync thread may be waiting for it)."""
        return bool(self._stack())

    def release(self) -> None:
        stack = self._stack()
        if not stack:
            raise RuntimeError("unlock_sync_mutex without a matching lock_sync_mutex in this thread")
        for store in reversed(stack.pop()):
            store.lock.release()
