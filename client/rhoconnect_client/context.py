"""What the sync algorithm needs to reach: stores, transport, notifier, settings, stop flag.

The engine builds one :class:`SyncContext`; the algorithm modules (``sync_source``, ``search``,
``bulk``) take it instead of the whole engine so that each one stays small and testable, and so that
the algorithm cannot call the public API (which would re-enter the command queue).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from .exceptions import Cancelled, UnknownSource
from .notify import Notifier
from .store import Source, Store
from .transport import Transport

__all__ = ["Settings", "SyncContext"]

log = logging.getLogger(__name__)


@dataclass
class Settings:
    """Run-time options, and the few values Rhodes keeps in ``rhoconfig.txt``.

    ``rho_sync_user`` (the last user logged in), ``bulksync_state`` and ``syncserver`` must survive a
    restart, as in Rhodes, so they are saved in a small JSON file beside the database (``path``); an in-memory
    engine keeps them in memory only. They are not in the database because a bulk sync replaces it.
    """

    page_size: int = 2000
    bulk_wait_seconds: float = 5.0
    # Rhodes rhoconfig ``bulksync_state``: None = bulk never runs, 0 = run bulk at the next sync, 1 = done.
    bulksync_state: int | None = None
    rho_sync_user: str | None = None
    # Creates whose POST broke off without an answer, per source name (see ``push``).
    uncertain_creates: dict[str, list[str]] = field(default_factory=dict)
    # Rhodes rhoconfig ``syncserver``: the server that issued the stored client id and session.
    syncserver: str | None = None
    path: Path | None = None
    # The app thread (bulksync_state, set_syncserver) and the sync thread both save: one at a time,
    # or one's rename of the shared temporary file pulls it from under the other's.
    _save_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    _SAVED: ClassVar[tuple[str, ...]] = ("bulksync_state", "rho_sync_user", "uncertain_creates", "syncserver")

    @staticmethod
    def file_beside(database: str | os.PathLike[str]) -> Path | None:
        """``<db stem>-rhoconfig.json`` beside an on-disk database (Rhodes' rhoconfig.txt)."""
        if str(database) == ":memory:":
            return None
        path = Path(database)
        return path.with_name(f"{path.stem}-rhoconfig.json")

    def load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return  # a damaged config file must not stop the app; values are re-learnt
        for key in self._SAVED:
            if key in data:
                setattr(self, key, data[key])

    def save(self) -> None:
        """Write the file atomically (temporary file, then rename); ``OSError`` if it cannot be."""
        if self.path is None:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        with self._save_lock:
            try:
                tmp.write_text(json.dumps({k: getattr(self, k) for k in self._SAVED}), encoding="utf-8")
                os.replace(tmp, self.path)
            except OSError:
                with contextlib.suppress(OSError):
                    tmp.unlink(missing_ok=True)  # no half-written leftover beside the database
                raise

    def save_or_warn(self, what: str) -> bool:
        """``save`` for the sync thread: a full disk or read-only folder is logged, not raised.

        The values stay right in memory for this run; only a restart would re-learn them (a bulk
        sync again, the last user unknown), which is far better than failing the login or the sync
        that changed them. True if the file was written.
        """
        try:
            self.save()
        except OSError as exc:
            log.warning("cannot save %s to %s (%s); kept in memory only", what, self.path, exc)
            return False
        return True


@dataclass
class SyncContext:
    transport: Transport
    notifier: Notifier
    stores: dict[str, Store]
    settings: Settings
    stop_flag: threading.Event
    # Called with every notification of a command whose status popup is on (see ``status``).
    reporter: Callable[[dict[str, Any]], None] | None = None
    reporting: bool = False

    @property
    def main(self) -> Store:
        """The ``user`` partition store: it holds ``client_info`` (session, client id)."""
        return self.stores["user"]

    def partitions(self) -> list[tuple[str, Store]]:
        """A snapshot of ``stores``: the app thread may open a partition (``add_model``) while the
        sync thread walks them, and iterating the live dict then raises ``RuntimeError``."""
        return list(self.stores.items())

    def seconds_since_sync(self) -> float | None:
        """Seconds since the most recent ``sources.last_updated`` of any open partition; None if
        no source was ever synced (the poll timer's first wait, docs/protocol.md#threads-stop-and-polling)."""
        stamps = [src.last_updated for _, store in self.partitions() for src in store.sources()]
        latest = max(stamps, default=0)
        return time.time() - latest if latest > 0 else None

    def check_stop(self) -> None:
        if self.stop_flag.is_set():
            raise Cancelled("sync stopped")

    def sync_sources(self) -> list[tuple[Store, Source]]:
        """Every synced source of every partition, in ``sync_priority`` order
        (docs/protocol.md#source-order)."""
        found = [(store, src) for _, store in self.partitions() for src in store.sources()]
        found = [(store, src) for store, src in found if src.sync_type != "none"]
        found.sort(key=lambda pair: (pair[1].sync_priority, pair[1].source_id))
        return found

    def find_source(self, name_or_id: str | int) -> tuple[Store, Source]:
        key: str | int = name_or_id
        if isinstance(name_or_id, str) and name_or_id.lstrip("-").isdigit():
            key = int(name_or_id)
        for _, store in self.partitions():
            src = store.source(key)
            if src is not None:
                return store, src
        raise UnknownSource(name_or_id)

    def report(self, params: dict[str, Any]) -> None:
        if self.reporting and self.reporter is not None and not self.notifier.suppressed:
            try:
                self.reporter(params)
            except Exception:  # the app's display code, like a callback: it must not break the sync
                log.exception("status reporter %r failed", self.reporter)

    def source_event(self, source_id: int, params: dict[str, Any]) -> dict[str, Any]:
        self.report(params)
        return self.notifier.source_event(source_id, params)

    def global_event(self, params: dict[str, Any]) -> dict[str, Any]:
        self.report(params)
        return self.notifier.global_event(params)
