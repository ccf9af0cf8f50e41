"""rhoconnect_client: the Rhodes ``SyncEngine`` API over a local SQLite store, in Python.

Start with :class:`SyncEngine`; see ``engine`` for the API and ``exceptions`` for the error tree.
"""

from importlib.metadata import PackageNotFoundError as _NotInstalled
from importlib.metadata import version as _version

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

try:  # written once, in pyproject.toml; read from the installed distribution's metadata
    __version__ = _version("rhoconnect-client")
except _NotInstalled:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

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
