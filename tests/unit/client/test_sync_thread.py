"""The sync thread: order, merging of identical queued commands, stop, polling, crash safety.

Waits are on events; the few checks that something does NOT happen wait a bounded time for the event
that would show it (and fail at once if it comes).
"""

from __future__ import annotations

import threading
import time

from rhoconnect_client.sync_thread import STARTUP_WAIT, Command, SyncThread, first_poll_wait


def noting(log: list[str], entry: str, result: dict[str, int]) -> dict[str, int]:
    """Append ``entry`` to ``log`` and return ``result``: a command's body in one expression."""
    log.append(entry)
    return result


def test_commands_run_in_order_and_identical_queued_ones_merge() -> None:
    gate = threading.Event()
    started = threading.Event()
    ran: list[str] = []
    thread = SyncThread()
    try:

        def held() -> dict[str, int]:
            started.set()
            gate.wait(5)
            ran.append("a")
            return {"n": 1}

        first = thread.submit(Command("a", "a", held))
        assert started.wait(5)  # "a" runs: no longer queued
        second = thread.submit(Command("b", "b", lambda: noting(ran, "b", {"n": 2})))
        again = thread.submit(Command("b", "b", lambda: noting(ran, "b2", {"n": 3})))
        running_key = thread.submit(Command("a", "a", lambda: noting(ran, "a2", {"n": 4})))
        assert again is second and running_key is not first  # only queued commands merge
        gate.set()
        assert first.wait(5) == {"n": 1} and second.wait(5) == {"n": 2} and running_key.wait(5) == {"n": 4}
        assert ran == ["a", "b", "a2"]
    finally:
        thread.close()


def test_stop_drops_queue_flags_running_and_waits() -> None:
    thread = SyncThread()
    try:
        started = threading.Event()

        def long() -> dict[str, int]:
            started.set()
            thread.stop_flag.wait(5)
            return {"n": 1}

        running = thread.submit(Command("long", 1, long))
        queued = thread.submit(Command("q", 2, lambda: {"n": 2}))
        started.wait(5)
        thread.stop()
        assert running.done() and running.stopped and running.result is not None
        assert running.result["error_code"] == 10
        assert queued.stopped and not thread.busy
        assert thread.submit(Command("after", 3, lambda: {"n": 3})).wait(5) == {"n": 3}
    finally:
        thread.close()


def test_poll_timer_and_interval_change() -> None:
    polled = threading.Event()
    count: list[int] = []

    def on_poll() -> Command | None:
        count.append(1)
        polled.set()
        return Command("poll", "poll", lambda: {"polled": True})

    thread = SyncThread(poll_interval=0.05, on_poll=on_poll)
    try:
        assert polled.wait(5)
        assert thread.set_poll_interval(0) == 0.05
        # A poll already under way ends before a command queued now has run.
        assert thread.submit(Command("sync point", "sync point", lambda: {})).wait(5) == {}
        polled.clear()
        assert not polled.wait(0.3)  # disabled
    finally:
        thread.close()


def test_a_crashing_command_does_not_kill_the_thread() -> None:
    thread = SyncThread()
    try:

        def boom() -> dict[str, int]:
            raise RuntimeError("bug")

        result = thread.submit(Command("boom", 1, boom)).wait(5)
        assert result is not None and result["error_code"] == 3
        assert thread.submit(Command("ok", 2, lambda: {"ok": 1})).wait(5) == {"ok": 1}
    finally:
        thread.close()


def test_first_poll_wait_is_shortened_by_the_time_since_the_last_sync() -> None:
    assert first_poll_wait(300, None) == 300  # never synced: the whole interval, as Rhodes
    assert first_poll_wait(300, 100) == 200
    assert first_poll_wait(300, 300) == STARTUP_WAIT  # overdue: a short pause for the app to start
    assert first_poll_wait(300, 10_000) == STARTUP_WAIT
    assert first_poll_wait(4, 10_000) == 4  # ...never longer than the interval
    assert first_poll_wait(300, -50) == 300  # the clock went back
    assert first_poll_wait(0, 100) == 0  # polling off stays off


def test_the_first_wait_is_used_once_then_the_whole_interval() -> None:
    polls: list[float] = []
    polled = threading.Event()

    def on_poll() -> None:
        polls.append(time.monotonic())
        polled.set()

    thread = SyncThread(poll_interval=3600, on_poll=on_poll, first_wait=0.05)
    try:
        assert polled.wait(5), "the shortened first wait did not fire"
        polled.clear()
        assert not polled.wait(0.3)
        assert len(polls) == 1  # the next wait is the whole hour
    finally:
        thread.close()


def test_close_without_waiting_runs_on_exit_on_the_sync_thread_after_the_command() -> None:
    gate = threading.Event()
    started = threading.Event()
    order: list[str] = []
    exited = threading.Event()
    thread = SyncThread()

    def held() -> dict[str, int]:
        started.set()
        gate.wait(5)
        order.append("command")
        return {"n": 1}

    handle = thread.submit(Command("held", 1, held))
    assert started.wait(5)

    def on_exit() -> None:
        order.append("exit" if thread.in_sync_thread() else "exit on the wrong thread")
        exited.set()

    thread.close(wait=False, on_exit=on_exit)  # returns although the command still runs
    assert order == [] and not handle.done()
    gate.set()
    assert exited.wait(5) and handle.wait(5) is not None and handle.stopped
    assert order == ["command", "exit"]
