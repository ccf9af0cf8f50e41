"""The mock server's exceptions: one root, leaves that carry the HTTP answer they stand for.

Exception tree::

    RhoconnectMockError
    ├── ConfigError                  bad configuration value (key, message); the CLI exits 2
    ├── DataFileError                a records file that cannot be loaded
    └── ProtocolError                a request the protocol answers with an error status
        ├── NotAuthenticated         401 text/plain "Not authenticated"
        ├── AuthenticationFailed     401 "Unable to authenticate '<login>'"
        ├── UnknownClient            500 "Unknown client"
        ├── UnknownSource            500 "Unknown source" (classic route without source_name)
        └── MalformedBody            500 "Server error while processing client data"

``ProtocolError`` leaves are turned into responses by one error handler in ``api.common``, so a
handler simply raises and the byte-exact answer of RhoConnect 7.8 goes out.
"""

from __future__ import annotations


class RhoconnectMockError(Exception):
    """Root of every exception the mock server raises on purpose."""


class ConfigError(RhoconnectMockError):
    """A configuration value is wrong; ``key`` names it (dotted path) so the user can fix it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key
        self.message = message


class DataFileError(ConfigError):
    """A records file (``--data``) could not be read or has the wrong shape."""


class ProtocolError(RhoconnectMockError):
    """A request that the real server answers with an error status and a fixed body."""

    status: int = 500
    body: str = ""
    content_type: str = "text/html;charset=utf-8"

    def __init__(self, body: str | None = None) -> None:
        if body is not None:
            self.body = body
        super().__init__(self.body)


class NotAuthenticated(ProtocolError):
    """No user in the session on a route that needs one."""

    status = 401
    body = "Not authenticated"
    content_type = "text/plain"


class AuthenticationFailed(ProtocolError):
    """Login refused (empty login, or not in the configured users)."""

    status = 401

    def __init__(self, login: str) -> None:
        super().__init__(f"Unable to authenticate '{login}'")
        self.login = login


class UnknownClient(ProtocolError):
    """Missing or unknown client id."""

    status = 500
    body = "Unknown client"


class UnknownSource(ProtocolError):
    """Classic query/CUD route without a ``source_name``."""

    status = 500
    body = "Unknown source"


class MalformedBody(ProtocolError):
    """A JSON body that does not parse."""

    status = 500
    body = "Server error while processing client data"
