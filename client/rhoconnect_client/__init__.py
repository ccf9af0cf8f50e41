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
from .version import __version__

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
    "__version__",
]
