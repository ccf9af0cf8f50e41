"""rhoconnect_client: the Rhodes ``SyncEngine`` API over a local SQLite store, in Python.

Start with :class:`SyncEngine`; see ``engine`` for the API and ``exceptions`` for the error tree.
"""

from .engine import SyncEngine
from .exceptions import (
    BulkError,
    Cancelled,
    ConnectionFailed,
    HTTPStatusError,
    InvalidAction,
    NotAuthorized,
    NotLoggedIn,
    ProtocolError,
    RequestTimeout,
    RhoconnectError,
    StoreError,
    SyncVersionError,
    TransportError,
    UnknownSource,
)
from .models import Model
from .status import StatusReporter
from .sync_thread import Handle

__all__ = [
    "BulkError",
    "Cancelled",
    "ConnectionFailed",
    "HTTPStatusError",
    "Handle",
    "InvalidAction",
    "Model",
    "NotAuthorized",
    "NotLoggedIn",
    "ProtocolError",
    "RequestTimeout",
    "RhoconnectError",
    "StatusReporter",
    "StoreError",
    "SyncEngine",
    "SyncVersionError",
    "TransportError",
    "UnknownSource",
]


def __getattr__(name: str) -> str:
    """``__version__``: written once, in pyproject.toml, and read from the installed metadata on
    first use (``importlib.metadata`` costs a noticeable part of the start-up time)."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rhoconnect-client")
    except PackageNotFoundError:  # imported from a source tree that was never installed
        return "0+unknown"
