"""The sync status reporter behind ``show_sync_status``/``enable_status_popup`` (the Rhodes popup).

Rhodes shows a native popup with the sync progress. Here a :class:`StatusReporter` turns each
notification of a command started with ``show_sync_status`` into one line of text: written to the
terminal (stderr, rewritten in place) when stderr is a terminal, else handed to a pluggable callable
(``sink``), e.g. a GUI's status bar or a logger. Nothing is shown unless ``enable_status_popup(True)``
was called (the Rhodes default is off).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["StatusReporter", "describe"]


def describe(params: dict[str, Any]) -> str:
    """A short human sentence for one notification."""
    status = params.get("status")
    name = params.get("source_name")
    if params.get("sync_type") == "bulk":
        part = params.get("partition") or "all partitions"
        if status == "error":
            return f"Bulk sync of {part} failed: {params.get('error_message') or params.get('error_code')}"
        return f"Bulk sync {part}: {params.get('bulk_status') or status}"
    if status == "in_progress":
        return (
            f"Syncing {name}: {params.get('cumulative_count', 0)} of {params.get('total_count', 0)} records"
        )
    if status == "ok":
        return f"{name} synced"
    if status == "schema-changed":
        return f"{name}: schema changed on the server"
    if status == "complete":
        failed = [str(f.get("source_name")) for f in params.get("failed_sources") or []]
        return f"Sync complete; failed: {', '.join(failed)}" if failed else "Sync complete"
    if status == "error":
        where = f"{name}: " if name else ""
        message = params.get("error_message") or ""
        if params.get("server_errors"):
            message = ", ".join(params["server_errors"]) + " reported by the server"
        return f"{where}sync error {params.get('error_code')}" + (f" ({message})" if message else "")
    return f"{name or 'sync'}: {status}"


class StatusReporter:
    """Shows sync progress; call it with each notification's parameters."""

    def __init__(
        self, sink: Callable[[str, dict[str, Any]], None] | None = None, stream: TextIO | None = None
    ) -> None:
        self.sink = sink
        self.stream = stream
        self._width = 0

    def _terminal(self) -> TextIO | None:
        stream = self.stream if self.stream is not None else sys.stderr
        try:
            return stream if stream.isatty() else None
        except (AttributeError, ValueError):
            return None

    def __call__(self, params: dict[str, Any]) -> None:
        line = describe(params)
        if self.sink is not None:
            self.sink(line, params)
            return
        terminal = self._terminal()
        if terminal is None:
            return
        # Progress lines overwrite each other; finished events stay on screen.
        padded = line.ljust(self._width)
        self._width = len(line)
        if params.get("status") == "in_progress":
            terminal.write("\r" + padded)
        else:
            terminal.write("\r" + padded + "\n")
            self._width = 0
        terminal.flush()
