"""Write-behind of the write-ahead log: an app's local writes reach the disk while the app goes on.

A local write commits with ``synchronous=NORMAL`` (the durability rule in ``store``): its log frames
are handed to the OS, not flushed. SQLite flushes the whole log before each checkpoint (it must, or
a power cut during the checkpoint could leave the database with pages newer than the log), and with
a dozen 4 KB pages per create that is 64 MB of log every thousand or so creates: about a third of
the time of 10,000 creates in a row, spent waiting for the disk inside ``create``.

``LogFlusher`` moves that wait to a helper thread: a few milliseconds after a local commit it
flushes the ``-wal`` file (``fdatasync``), so the checkpoint finds the log already on disk. It only
ever makes committed data durable sooner; SQLite's own syncs, and so the durability rule, are
unchanged. It opens the log file by name for each flush and closes it again: SQLite holds no POSIX
lock on the ``-wal`` file (its locks are on the database and ``-shm`` files, and closing a
descriptor of *those* would drop them), and a log deleted or replaced meanwhile (a bulk swap
leaves WAL mode) is simply skipped or found anew.
"""

from __future__ import annotations

import logging
import os
import threading
import time

__all__ = ["FLUSH_DELAY", "IDLE_EXIT", "SUPPORTED", "LogFlusher"]

log = logging.getLogger(__name__)

# Seconds between a local commit and the flush that follows it: commits in that window share one
# flush (at most ~200 flushes a second while an app writes without pause, none while it is idle).
FLUSH_DELAY = 0.005

# POSIX only: Windows cannot sync a file opened read-only (SQLite's own syncs still run there).
SUPPORTED = os.name == "posix"
# Seconds without a local commit after which the thread ends.
IDLE_EXIT = 2.0

_sync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync


class LogFlusher:
    """Flushes ``<database>-wal`` a little after each :meth:`poke`.

    The work is done by a daemon thread started by the first poke; it ends after ``IDLE_EXIT``
    seconds without one (so a store that is dropped without ``close`` leaves no thread behind) and
    the next poke starts another.
    """

    def __init__(self, db_path: str, *, delay: float = FLUSH_DELAY) -> None:
        self.wal_path = db_path + "-wal"
        self.delay = delay
        self.flushes = 0  # flushes done, for tests
        self._due = threading.Event()
        self._lock = threading.Lock()  # guards _thread and _stopping against _due
        self._thread: threading.Thread | None = None
        self._stopping = False

    def poke(self) -> None:
        """A commit left unflushed log frames: flush them soon."""
        if self._due.is_set() and self._thread is not None:
            return  # a flush is due already; the thread only ends while none is
        with self._lock:
            self._due.set()
            if self._thread is None and not self._stopping:
                self._thread = threading.Thread(target=self._run, name="rhoconnect-wal-flush", daemon=True)
                self._thread.start()

    def close(self) -> None:
        """Flush what is due and stop the thread (idempotent)."""
        with self._lock:
            self._stopping = True
            thread = self._thread
            self._due.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        while True:
            if not self._due.wait(IDLE_EXIT):
                with self._lock:
                    if not self._due.is_set():  # a poke under the lock would have set it
                        self._thread = None
                        return
            if not self._stopping:
                time.sleep(self.delay)  # the commits of the next few ms share this flush
            self._due.clear()
            self.flush()
            if self._stopping:
                return

    def flush(self) -> None:
        """``fdatasync`` the log file if it exists; an error is logged, never raised (SQLite's own
        sync before the checkpoint still runs and reports it)."""
        try:
            fd = os.open(self.wal_path, os.O_RDONLY)
        except FileNotFoundError:
            return
        except OSError as exc:
            log.debug("cannot open %s to flush it: %s", self.wal_path, exc)
            return
        try:
            _sync(fd)
            self.flushes += 1
        except OSError as exc:
            log.debug("cannot flush %s: %s", self.wal_path, exc)
        finally:
            os.close(fd)
