"""The sync thread: one worker, a command queue, the poll timer and the stop flag
(docs/protocol.md#threads-stop-and-polling).

Every network operation of the engine (login, sync, search) runs here, one at a time, so that the
local database only ever has one writer besides the app. Callers get a :class:`Handle` at once.

* Identical queued commands are merged: submitting a command whose ``key`` equals a command still
  waiting in the queue returns that command's handle (Rhodes ``ThreadQueue`` de-duplication).
* The poll timer: when the queue has been empty for ``poll_interval`` seconds the ``on_poll`` hook
  may produce a command (the engine queues a full sync when logged in); 0 disables polling. The
  first wait after start may be shorter (``first_wait``, see :func:`first_poll_wait`): an app
  restarted after a long pause syncs soon instead of a whole interval later.
* ``stop()``: drops queued commands (their handles end as stopped), raises the stop flag the running
  command checks between steps, and waits until the thread is idle, except when called from the
  sync thread itself (a notification callback), which must not wait for itself.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from .exceptions import Cancelled

__all__ = ["STARTUP_WAIT", "Command", "Handle", "SyncThread", "first_poll_wait", "stopped_params"]

log = logging.getLogger(__name__)


# Rhodes ThreadQueue: the first poll of an app whose last sync is already overdue waits this long,
# so that the app can finish starting before the sync begins.
STARTUP_WAIT = 10.0


def first_poll_wait(interval: float, since_last_sync: float | None) -> float:
    """The first poll wait after start (docs/protocol.md#threads-stop-and-polling): ``interval`` shortened by
    the time since the most
    recent sync; ``STARTUP_WAIT`` (or ``interval`` if shorter) when that is already overdue.

    ``since_last_sync`` None (never synced) leaves the interval whole, as Rhodes does; a negative
    one (the clock went back) never makes the wait longer than the interval.
    """
    if interval <= 0 or since_last_sync is None:
        return interval
    remaining = interval - since_last_sync
    if remaining <= 0:
        return min(STARTUP_WAIT, interval)
    return min(remaining, interval)


def stopped_params() -> dict[str, Any]:
    """What a stopped command's handle holds: an error with the Rhodes cancel code 10 (decision
    "error_code")."""
    return {"status": "error", "error_code": 10, "rho_error_code": 10, "error_message": "sync stopped"}


class Handle:
    """The result of a queued command; ``wait`` gives the final callback parameters."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._done = threading.Event()
        self._result: dict[str, Any] | None = None
        self.stopped = False

    def wait(self, timeout: float | None = None) -> dict[str, Any] | None:
        """Block until the command finished (or ``timeout`` seconds); its final parameters or None."""
        self._done.wait(timeout)
        return self._result

    def done(self) -> bool:
        return self._done.is_set()

    @property
    def result(self) -> dict[str, Any] | None:
        return self._result

    def _finish(self, result: dict[str, Any] | None, *, stopped: bool = False) -> None:
        if self._done.is_set():
            return
        self.stopped = stopped
        self._result = result
        self._done.set()

    def __repr__(self) -> str:
        state = "stopped" if self.stopped else "done" if self.done() else "pending"
        return f"<Handle {self.kind} {state}>"


@dataclass(eq=False)
class Command:
    """A unit of work for the sync thread; ``run`` returns the final parameters."""

    kind: str
    key: Hashable
    run: Callable[[], dict[str, Any]]
    show_status: bool = False  # the per-command status popup switch of dosync(show_sync_status)
    handle: Handle = field(init=False)

    def __post_init__(self) -> None:
        self.handle = Handle(self.kind)


class SyncThread:
    """A daemon worker running :class:`Command` objects in order."""

    def __init__(
        self,
        *,
        poll_interval: float = 0.0,
        on_poll: Callable[[], Command | None] | None = None,
        on_start: Callable[[Command], None] | None = None,
        first_wait: float | None = None,
        name: str = "rhoconnect-sync",
    ) -> None:
        self._queue: collections.deque[Command] = collections.deque()
        self._cond = threading.Condition()
        self._poll_interval = float(poll_interval)
        # Used once, for the first timer wait; a command or a new interval restarts the timer whole.
        self._first_wait = None if first_wait is None else float(first_wait)
        self._on_poll = on_poll
        self._on_start = on_start
        self._running: Command | None = None
        self._closed = False
        self._on_exit: Callable[[], None] | None = None
        self.stop_flag = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ public
    def submit(self, command: Command) -> Handle:
        with self._cond:
            if self._closed:
                command.handle._finish(stopped_params(), stopped=True)
                return command.handle
            for queued in self._queue:
                if queued.key == command.key:
                    log.debug("merged queued command %s", command.kind)
                    return queued.handle
            self._queue.append(command)
            self._cond.notify_all()
        return command.handle

    def in_sync_thread(self) -> bool:
        return threading.current_thread() is self._thread

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._running is not None or bool(self._queue)

    def stop(self, *, wait: bool = True) -> None:
        """Drop the queue, flag the running command, and wait for the thread to be idle."""
        with self._cond:
            dropped = list(self._queue)
            self._queue.clear()
            if self._running is not None:
                self.stop_flag.set()
            self._cond.notify_all()
        for command in dropped:
            command.handle._finish(stopped_params(), stopped=True)
        if wait and not self.in_sync_thread():
            with self._cond:
                self._cond.wait_for(lambda: self._running is None)

    def wait_idle(self, timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._running is None and not self._queue, timeout)

    def set_poll_interval(self, seconds: float) -> float:
        with self._cond:
            previous = self._poll_interval
            self._poll_interval = max(0.0, float(seconds))
            self._first_wait = None
            self._cond.notify_all()  # the timer restarts with the new interval
        return previous

    @property
    def poll_interval(self) -> float:
        return self._poll_interval

    def close(self, *, wait: bool = True, on_exit: Callable[[], None] | None = None) -> None:
        """Stop and end the thread; ``on_exit`` runs on the sync thread as its last act.

        ``wait`` False returns at once: for a caller the running command may be waiting for (it
        holds the sync mutex, or it is the sync thread itself). The command then ends at its next
        step, and ``on_exit`` is the place to release what it still uses.
        """
        with self._cond:
            self._on_exit = on_exit
        self.stop(wait=wait)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if wait and not self.in_sync_thread():
            self._thread.join(timeout=5)

    # ------------------------------------------------------------------ the loop
    def _next(self) -> Command | None:
        """The next command: queued first, else a poll command when the timer runs out."""
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    interval = self._poll_interval
                    if interval > 0 and self._first_wait is not None:
                        interval = min(interval, self._first_wait)
                    if interval <= 0:
                        self._cond.wait()
                    elif not self._cond.wait(timeout=interval) and not self._queue and not self._closed:
                        break  # the poll timer ran out with nothing to do
                self._first_wait = None
                if self._closed:
                    return None
                if self._queue:
                    queued = self._queue.popleft()
                    self._running = queued
                    return queued
            polled = self._on_poll() if self._on_poll is not None else None
            if polled is not None:
                with self._cond:
                    self._running = polled
                return polled

    def _loop(self) -> None:
        while True:
            command = self._next()
            if command is None:
                if self._on_exit is not None:
                    try:
                        self._on_exit()
                    except Exception:  # the thread ends either way; say why the cleanup failed
                        log.exception("closing after the sync thread failed")
                return
            self.stop_flag.clear()
            result: dict[str, Any] | None = None
            try:
                if self._on_start is not None:
                    self._on_start(command)
                result = command.run()
            except Cancelled:
                log.debug("sync command %s stopped", command.kind)
            except Exception:  # a bug must not kill the thread: the handle reports it
                log.exception("sync command %s failed", command.kind)
                result = {
                    "status": "error",
                    "error_code": 3,
                    "rho_error_code": 3,
                    "error_message": "internal error in the sync engine",
                }
            finally:
                stopped = self.stop_flag.is_set()
                command.handle._finish(stopped_params() if stopped else result, stopped=stopped)
                with self._cond:
                    self._running = None
                    self._cond.notify_all()
