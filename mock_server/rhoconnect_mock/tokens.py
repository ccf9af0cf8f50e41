"""Page and search tokens: numeric strings, microseconds since 2009-01-01, strictly increasing.

RhoConnect's ``get_token`` uses the same epoch; clients parse the token as an unsigned 64-bit
integer, so they must stay numeric. Strictly increasing (even within one microsecond) keeps every
token unique, which is what makes "the client sent the pending page's token" a safe test.
"""

from __future__ import annotations

import threading
import time

#: 2009-01-01T00:00:00Z in Unix seconds.
EPOCH_2009 = 1230768000


class TokenClock:
    """Issues unique, increasing numeric token strings (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def next(self) -> str:
        """A fresh token, greater than every token this clock issued before."""
        now = time.time_ns() // 1000 - EPOCH_2009 * 1_000_000
        with self._lock:
            self._last = max(now, self._last + 1)
            return str(self._last)
