"""The write-behind of the log: local commits get their ``-wal`` flushed soon after, durable ones
need none, and the helper thread comes and goes with the writes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from rhoconnect_client import walflush
from rhoconnect_client.models import Model
from rhoconnect_client.store import Store

pytestmark = pytest.mark.skipif(not walflush.SUPPORTED, reason="write-behind is POSIX only")


def wait_for(predicate: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.005)
    return False


def flusher_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "rhoconnect-wal-flush"]


def test_a_poke_flushes_the_log_file(tmp_path: Path) -> None:
    (tmp_path / "db-wal").write_bytes(b"frames")
    flusher = walflush.LogFlusher(str(tmp_path / "db"), delay=0.001)
    assert flusher.flushes == 0 and flusher._thread is None  # no thread before the first poke
    flusher.poke()
    assert wait_for(lambda: flusher.flushes >= 1)
    flusher.close()
    assert flusher._thread is None or not flusher._thread.is_alive()


def test_a_missing_log_is_skipped(tmp_path: Path) -> None:
    flusher = walflush.LogFlusher(str(tmp_path / "db"), delay=0.001)
    flusher.poke()
    flusher.close()  # flushes what is due on the way out: nothing to open, nothing raised
    assert flusher.flushes == 0


def test_the_thread_ends_when_idle_and_comes_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(walflush, "IDLE_EXIT", 0.05)
    (tmp_path / "db-wal").write_bytes(b"frames")
    flusher = walflush.LogFlusher(str(tmp_path / "db"), delay=0.001)
    flusher.poke()
    assert wait_for(lambda: flusher._thread is None)  # idle: gone
    flusher.poke()
    assert wait_for(lambda: flusher.flushes >= 2)
    flusher.close()


def test_local_writes_poke_durable_ones_do_not(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        flusher = store._flusher
        assert flusher is not None
        store.register_source("Product")  # a durable (FULL) commit: SQLite synced it already
        store.set_client_id("c")
        assert flusher._thread is None and not flusher._due.is_set()
        Model(store, "Product").create({"a": "1"})
        assert wait_for(lambda: flusher.flushes >= 1)
    assert flusher._thread is None or not flusher._thread.is_alive()  # close stopped it


def test_memory_and_normal_stores(tmp_path: Path) -> None:
    with Store(":memory:") as memory:
        assert memory._flusher is None
    with Store(tmp_path / "n.db", synchronous="OFF") as off:  # no sync wanted: nothing flushed
        off.register_source("P")
        Model(off, "P").create({"a": "1"})
        assert off._flusher is not None and off._flusher._thread is None


def test_closing_stores_leaves_no_thread(tmp_path: Path) -> None:
    before = len(flusher_threads())
    for i in range(3):
        with Store(tmp_path / f"{i}.db") as store:
            store.register_source("P")
            Model(store, "P").create({"a": "1"})
    assert wait_for(lambda: len(flusher_threads()) <= before)
