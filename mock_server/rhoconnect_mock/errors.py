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
        ├── MalformedBody            500 text/plain "Server error while processing client data"
        └── RubyException            500 with the message of the Ruby exception the real server raises

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
    """A JSON body that does not parse: RhoConnect's body parser answers it before any route,
    so it is ``text/plain`` in both URL families."""

    status = 500
    body = "Server error while processing client data"
    content_type = "text/plain"


class RubyException(ProtocolError):
    """Input that makes RhoConnect 7.8 raise: it answers 500 with the exception's message.

    The body is ``text/plain``, except on the search and bulk routes, which have already set
    ``application/json`` when the exception happens.
    """

    status = 500
    content_type = "text/plain"

    def __init__(self, message: str, content_type: str = "text/plain") -> None:
        super().__init__(message)
        self.content_type = content_type


def ruby_inspect(value: object) -> str:
    """How a Ruby message names a receiver parsed from JSON: ``nil``, ``false:FalseClass`` and
    ``an instance of Hash`` (the forms the real server's messages show)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return f"{'true' if value else 'false'}:{'TrueClass' if value else 'FalseClass'}"
    return f"an instance of {ruby_class(value)}"


def ruby_class(value: object) -> str:
    """The Ruby class of a value parsed from JSON."""
    if value is None:
        return "NilClass"
    if isinstance(value, bool):
        return "TrueClass" if value else "FalseClass"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "Float"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    return "Hash"


def no_method(method: str, receiver: object, content_type: str = "text/plain") -> RubyException:
    """Ruby's ``NoMethodError`` for ``receiver.method`` as the real server reports it."""
    return RubyException(f"undefined method '{method}' for {ruby_inspect(receiver)}", content_type)


def not_a_hash(value: object) -> RubyException:
    """Rack merging a JSON body that is not an object into the parameters: a ``TypeError``."""
    if value is None or isinstance(value, bool):
        shown = "nil" if value is None else str(value).lower()
    else:
        shown = ruby_class(value)
    return RubyException(f"no implicit conversion of {shown} into Hash")
