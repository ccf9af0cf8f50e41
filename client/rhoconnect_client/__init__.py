"""rhoconnect_client: the Rhodes ``SyncEngine`` API over a local SQLite store, in Python.

Start with :class:`SyncEngine`; see ``engine`` for the API, ``exceptions`` for the error tree and the
Rhodes error numbers (``ERR_*``), ``notify`` for the parameters each callback receives.
"""

from .engine import SyncEngine
from .exceptions import (
    ERR_CANCELBYUSER,
    ERR_CLIENTISNOTLOGGEDIN,
    ERR_CUSTOMSYNCSERVER,
    ERR_DIFFDOMAINSINSYNCSRC,
    ERR_NETWORK,
    ERR_NONE,
    ERR_NOSERVERRESPONSE,
    ERR_REMOTESERVER,
    ERR_RUNTIME,
    ERR_SYNCVERSION,
    ERR_UNATHORIZED,
    ERR_UNEXPECTEDSERVERRESPONSE,
    BulkError,
    Cancelled,
    ConnectionFailed,
    HTTPStatusError,
    InvalidAction,
    NotAuthorized,
    NotLoggedIn,
    ProtocolError,
    RedirectRefused,
    RequestTimeout,
    ResponseTooLarge,
    RhoconnectError,
    StoreError,
    SyncVersionError,
    TransportError,
    UnknownSource,
)
from .models import Model
from .notify import BulkParams, ErrorFields, ObjectNotifyParams, ObjectRef, SearchParams, SyncParams
from .status import StatusReporter
from .sync_thread import Handle
from .version import __version__

__all__ = [
    "ERR_CANCELBYUSER",
    "ERR_CLIENTISNOTLOGGEDIN",
    "ERR_CUSTOMSYNCSERVER",
    "ERR_DIFFDOMAINSINSYNCSRC",
    "ERR_NETWORK",
    "ERR_NONE",
    "ERR_NOSERVERRESPONSE",
    "ERR_REMOTESERVER",
    "ERR_RUNTIME",
    "ERR_SYNCVERSION",
    "ERR_UNATHORIZED",
    "ERR_UNEXPECTEDSERVERRESPONSE",
    "BulkError",
    "BulkParams",
    "Cancelled",
    "ConnectionFailed",
    "ErrorFields",
    "HTTPStatusError",
    "Handle",
    "InvalidAction",
    "Model",
    "NotAuthorized",
    "NotLoggedIn",
    "ObjectNotifyParams",
    "ObjectRef",
    "ProtocolError",
    "RedirectRefused",
    "RequestTimeout",
    "ResponseTooLarge",
    "RhoconnectError",
    "SearchParams",
    "StatusReporter",
    "StoreError",
    "SyncEngine",
    "SyncParams",
    "SyncVersionError",
    "TransportError",
    "UnknownSource",
    "__version__",
]
