"""The status reporter: sentences, terminal output only on a tty, or a pluggable sink."""

from __future__ import annotations

import io
from typing import Any

from rhoconnect_client.status import StatusReporter, describe


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_describe() -> None:
    assert describe(
        {"status": "in_progress", "source_name": "P", "cumulative_count": 4, "total_count": 9}
    ) == ("Syncing P: 4 of 9 records")
    assert describe({"status": "complete"}) == "Sync complete"
    failed = {"status": "complete", "failed_sources": [{"source_name": "Product"}, {"source_name": "Order"}]}
    assert describe(failed) == "Sync complete; failed: Product, Order"
    assert describe({"status": "error", "source_name": "P", "error_code": 500, "error_message": "boom"}) == (
        "P: sync error 500 (boom)"
    )
    assert "query-error" in describe(
        {"status": "error", "error_code": 8, "server_errors": {"query-error": {}}}
    )
    assert (
        describe(
            {"sync_type": "bulk", "partition": "user", "bulk_status": "download", "status": "in_progress"}
        )
        == "Bulk sync user: download"
    )


def test_terminal_rewrites_progress_line() -> None:
    tty = Tty()
    reporter = StatusReporter(stream=tty)
    reporter({"status": "in_progress", "source_name": "P", "cumulative_count": 1, "total_count": 2})
    reporter({"status": "ok", "source_name": "P"})
    assert tty.getvalue() == "\rSyncing P: 1 of 2 records\r" + "P synced".ljust(25) + "\n"


def test_not_a_terminal_prints_nothing_and_sink_gets_lines() -> None:
    plain = io.StringIO()
    StatusReporter(stream=plain)({"status": "complete"})
    assert plain.getvalue() == ""
    got: list[tuple[str, dict[str, Any]]] = []
    StatusReporter(sink=lambda line, params: got.append((line, params)))({"status": "complete"})
    assert got == [("Sync complete", {"status": "complete"})]
