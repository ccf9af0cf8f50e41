"""What one request is, in protocol terms: the contract between the protocol blueprints,
the fault engine and the journal.

The protocol layer classifies every request before any handler runs and stores a
``RequestInfo`` on ``flask.g.rc``; handlers fill in what they learn (user, client id,
the token they issued); the fault engine matches rules against it and the journal
records it. Keeping it in one small dataclass lets those three evolve separately.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

Operation = Literal[
    "login",
    "clientcreate",
    "clientregister",
    "clientreset",
    "query",
    "cud",
    "search",
    "bulk_data",
    "bulk_file",
    "admin",
    "other",
]
Family = Literal["classic", "rest"]

#: Where the admin API lives; its requests are never protocol requests (no journal, no faults, no CORS).
ADMIN_PREFIX = "/_mock"


def is_admin_path(path: str) -> bool:
    """Whether ``path`` is the admin API's (``/_mock`` or below it)."""
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


#: Every operation, in declaration order (the ``Operation`` literal is the one list).
OPERATIONS: tuple[Operation, ...] = get_args(Operation)


@dataclass
class RequestInfo:
    """A request seen through the protocol: filled in as the request is handled."""

    operation: Operation
    family: Family | None = None
    source: str | None = None
    user: str | None = None
    client_id: str | None = None
    token_sent: str | None = None
    token_issued: str | None = None
    sources: list[str] = field(default_factory=list)
