"""The console request log: one line per protocol request, for people watching the mock run.

An observer of the request pipeline: it gets each journal entry as it is recorded and writes one
line, as text for people or JSON for machines. It only reads the entry's protocol fields (time,
user, client, operation, source, status, bytes, duration, faults, outcome), never a request body,
a header or a cookie, so passwords and session cookies cannot reach the console.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Literal, TextIO

from .journal import JournalEntry

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")


def _timestamp(seconds: float) -> str:
    """UTC, ISO 8601 with milliseconds (``2026-12-03T16:10:07.123Z``)."""
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{whole}.{int(seconds % 1 * 1000):03d}Z"


def fields(entry: JournalEntry) -> dict[str, Any]:
    """The logged fields of an entry (the JSON line's keys, in order)."""
    return {
        "time": _timestamp(entry.time),
        "user": entry.user,
        "client_id": entry.client_id,
        "operation": entry.operation,
        "source": entry.source,
        "method": entry.method,
        "path": entry.path,
        "status": entry.status,
        "bytes": entry.bytes_sent,
        "ms": round(entry.duration_ms + (entry.delay_ms or 0.0), 1),
        "faults": [f"{rule}:{action}" for rule, action in zip(entry.faults, entry.actions, strict=False)],
        "outcome": entry.outcome,
    }


def text_line(entry: JournalEntry) -> str:
    """``TIME USER CLIENT OPERATION SOURCE METHOD PATH -> STATUS BYTES MS [fault ...] [outcome]``."""
    f = fields(entry)
    parts = [
        f["time"],
        f["user"] or "-",
        f["client_id"] or "-",
        f["operation"],
        f["source"] or "-",
        f"{f['method'] or '-'} {f['path'] or '-'}",  # a request refused before its request line: - -
        "->",
        str(f["status"]) if f["status"] is not None else "---",
        f"{f['bytes']}B" if f["bytes"] is not None else "-B",
        f"{f['ms']}ms",
    ]
    if f["faults"]:
        parts.append("fault=" + ",".join(f["faults"]))
    if f["outcome"] != "complete":
        parts.append(f["outcome"])
    if entry.error:
        parts.append("error")
    return " ".join(parts)


def json_line(entry: JournalEntry) -> str:
    return json.dumps(fields(entry), separators=(",", ":"))


class RequestLog:
    """Writes one line per journal entry to ``stream`` (thread-safe, flushed per line)."""

    def __init__(self, stream: TextIO, log_format: LogFormat = "text") -> None:
        self.stream = stream
        self.format = text_line if log_format == "text" else json_line
        self._lock = threading.Lock()

    def __call__(self, entry: JournalEntry) -> None:
        line = self.format(entry)
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()
