"""Test helper: read the outbox (``changed_values``) rows of a store in the order they were written."""

from __future__ import annotations

from typing import Any

from rhoconnect_client.store import Store


def outbox(store: Store, where: str = "1=1") -> list[tuple[Any, ...]]:
    """``(object, attrib, value, update_type, sent)`` rows matching the SQL condition ``where``."""
    return [
        tuple(row)
        for row in store.conn.execute(
            "SELECT object, attrib, value, update_type, sent FROM changed_values "
            f"WHERE {where} ORDER BY rowid"
        )
    ]
