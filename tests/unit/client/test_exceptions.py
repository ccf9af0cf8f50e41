"""The exception tree: one root, Rhodes numbers and the ``error_code`` decision."""

from __future__ import annotations

import pytest
from rhoconnect_client import exceptions as exc


def test_every_exception_derives_from_the_root() -> None:
    for name in exc.__all__:
        assert issubclass(getattr(exc, name), exc.RhoconnectError)
    assert exc.__all__ == sorted(exc.__all__)


@pytest.mark.parametrize(
    ("error", "rho", "code"),
    [
        (exc.ProtocolError("bad"), 4, 4),
        (exc.SyncVersionError("v2"), 11, 11),
        (exc.ConnectionFailed("refused"), 1, 1),
        (exc.RequestTimeout("slow"), 1, 1),
        (exc.HTTPStatusError(500, "Unknown client", "http://h/app"), 2, 500),
        (exc.HTTPStatusError(404, "", "http://h/x"), 2, 404),
        (exc.NotAuthorized(401, "Not authenticated", "http://h/app"), 9, 401),
        (exc.NotLoggedIn("no session"), 7, 7),
        (exc.Cancelled("stop"), 10, 10),
        (exc.UnknownSource("Nope"), 3, 3),
        (exc.BulkError("not sqlite"), 4, 4),
        (exc.InvalidAction("explode", ("delete",)), 3, 3),
    ],
)
def test_codes(error: exc.RhoconnectError, rho: int, code: int) -> None:
    assert error.rho_error_code == rho
    assert error.error_code == code


def test_structured_fields() -> None:
    e = exc.HTTPStatusError(500, "Unknown client", "http://h/app")
    assert (e.status, e.body, e.url) == (500, "Unknown client", "http://h/app")
    assert e.unknown_client and not exc.HTTPStatusError(500, "boom", "u").unknown_client
    assert str(exc.HTTPStatusError(502, "", "u")) == "HTTP 502"
    assert isinstance(exc.NotAuthorized(401, "x", "u"), exc.HTTPStatusError)
    assert exc.UnknownSource("Nope").name == "Nope"
    invalid = exc.InvalidAction(":explode", ("delete", "recreate"))
    assert isinstance(invalid, ValueError) and invalid.action == ":explode"
    assert "delete, recreate" in str(invalid)
    assert exc.ProtocolError("m", body="b").body == "b"
