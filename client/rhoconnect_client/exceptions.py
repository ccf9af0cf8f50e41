"""The client's exception tree: one root, leaves with structured fields.

Every exception carries two numbers so that the engine can build an ``error`` notification without
knowing which leaf it caught:

* ``rho_error_code``: the Rhodes error number (docs/protocol.md#client-error-numbers), for apps ported from
Rhodes;
* ``error_code``: per decision "error_code", the HTTP status when the failure came with an HTTP response, else
  the Rhodes number (which never collides with an HTTP status).

Tree::

    RhoconnectError                      (rho 3, runtime)
    ├── ProtocolError                    (rho 4, unexpected/unparsable server answer)
    │   └── SyncVersionError             (rho 11, page not starting with {"version":3})
    ├── TransportError                   (rho 1, no HTTP response)
    │   ├── ConnectionFailed             (rho 1, refused/reset/DNS)
    │   └── RequestTimeout               (rho 1, no answer in time)
    ├── HTTPStatusError                  (rho 2, status other than 200/206; error_code = status)
    │   └── NotAuthorized                (rho 9, status 401)
    ├── NotLoggedIn                      (rho 7, sync without a session)
    ├── Cancelled                        (rho 10, stop_sync)
    ├── StoreError                       (rho 3, local database problem)
    │   ├── UnknownSource                (rho 3, no such model/source)
    │   └── BulkError                    (rho 4, bulk file not a valid Rhodes database)
    └── InvalidAction  (also ValueError) (rho 3, on_sync_*_error with an unknown action)
"""

from __future__ import annotations

__all__ = [
    "BulkError",
    "Cancelled",
    "ConnectionFailed",
    "HTTPStatusError",
    "InvalidAction",
    "NotAuthorized",
    "NotLoggedIn",
    "ProtocolError",
    "RequestTimeout",
    "RhoconnectError",
    "StoreError",
    "SyncVersionError",
    "TransportError",
    "UnknownSource",
]

# Rhodes error numbers (docs/protocol.md#client-error-numbers), kept as names for readability at the raise
# sites.
ERR_NETWORK = 1
ERR_REMOTESERVER = 2
ERR_RUNTIME = 3
ERR_UNEXPECTEDSERVERRESPONSE = 4
ERR_CLIENTISNOTLOGGEDIN = 7
ERR_CUSTOMSYNCSERVER = 8
ERR_UNATHORIZED = 9
ERR_CANCELBYUSER = 10
ERR_SYNCVERSION = 11


class RhoconnectError(Exception):
    """Root of every error raised by ``rhoconnect_client``."""

    rho_error_code: int = ERR_RUNTIME

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    @property
    def error_code(self) -> int:
        """decision "error_code": the HTTP status if a response came, else the Rhodes number."""
        return self.rho_error_code


class ProtocolError(RhoconnectError):
    """The server answered 200 but the body is not what the protocol allows.

    ``body`` keeps the offending text (possibly truncated by the caller) for the error message.
    """

    rho_error_code = ERR_UNEXPECTEDSERVERRESPONSE

    def __init__(self, message: str, *, body: str | bytes | None = None) -> None:
        super().__init__(message)
        self.body = body


class SyncVersionError(ProtocolError):
    """A page whose first element is not ``{"version":3}``."""

    rho_error_code = ERR_SYNCVERSION


class TransportError(RhoconnectError):
    """No HTTP response at all."""

    rho_error_code = ERR_NETWORK


class ConnectionFailed(TransportError):
    """Connection refused, reset or otherwise broken."""


class RequestTimeout(TransportError):
    """The server did not answer within the timeout."""


class HTTPStatusError(RhoconnectError):
    """An HTTP status other than 200/206; ``error_message`` of the notification is ``body``."""

    rho_error_code = ERR_REMOTESERVER

    def __init__(self, status: int, body: str, url: str) -> None:
        super().__init__(body or f"HTTP {status}")
        self.status = status
        self.body = body
        self.url = url

    @property
    def error_code(self) -> int:
        return self.status

    @property
    def unknown_client(self) -> bool:
        """Rhodes ``RhoError#unknown_client?``: the server lost our client id."""
        return self.status == 500 and self.body.strip().lower() == "unknown client"


class NotAuthorized(HTTPStatusError):
    """HTTP 401: the session is gone; the engine clears it and does not log in again (decision "Sessions and
    servers")."""

    rho_error_code = ERR_UNATHORIZED


class NotLoggedIn(RhoconnectError):
    """A sync was asked for without a session."""

    rho_error_code = ERR_CLIENTISNOTLOGGEDIN


class Cancelled(RhoconnectError):
    """The operation was stopped by ``stop_sync``."""

    rho_error_code = ERR_CANCELBYUSER


class StoreError(RhoconnectError):
    """The local database refused an operation or is not usable."""


class UnknownSource(StoreError):
    """No source (model) with that name or id is registered."""

    def __init__(self, name: str | int) -> None:
        super().__init__(f"unknown source {name!r}")
        self.name = name


class BulkError(StoreError):
    """A bulk file is not a SQLite database with the Rhodes tables; the old database is untouched."""

    rho_error_code = ERR_UNEXPECTEDSERVERRESPONSE


class InvalidAction(RhoconnectError, ValueError):
    """``on_sync_*_error`` got an action it does not know (Rhodes raises ArgumentError)."""

    def __init__(self, action: object, allowed: tuple[str, ...] = (), *, detail: str | None = None) -> None:
        hint = f"; expected one of {', '.join(allowed)}" if allowed else ""
        super().__init__(detail or f"invalid action {action!r}{hint}")
        self.action = action
        self.allowed = allowed
