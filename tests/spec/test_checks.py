"""The suite's own checks fail when they should (a check that cannot fail proves nothing)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from .test_protocol_spec import exact_content_type, only_protocol_500s


def _case(method: str, path: str) -> Any:
    return SimpleNamespace(method=method, formatted_path=path)


def _response(status: int, content_type: str, body: bytes = b"") -> Any:
    return SimpleNamespace(status_code=status, headers={"content-type": [content_type]}, content=body)


def test_exact_content_type_refuses_a_space_or_charset_difference() -> None:
    case = _case("POST", "/app/v1/Product")
    assert exact_content_type(None, _response(200, "text/html;charset=utf-8"), case)
    with pytest.raises(AssertionError, match="not exactly"):
        exact_content_type(None, _response(200, "text/html; charset=utf-8"), case)
    with pytest.raises(AssertionError, match="not exactly"):
        exact_content_type(None, _response(200, "application/json; charset=utf-8"), _case("GET", "/app/v1/P"))


def test_only_protocol_500s() -> None:
    query = _case("GET", "/app/v1/Product")
    assert only_protocol_500s(None, _response(500, "text/html;charset=utf-8", b"Unknown client"), query)
    with pytest.raises(AssertionError, match="undocumented 500"):
        only_protocol_500s(None, _response(500, "text/html", b"Traceback (most recent call last)"), query)
    # A protocol body, but not one this operation can give.
    with pytest.raises(AssertionError, match="not declared for this operation"):
        only_protocol_500s(None, _response(500, "text/html;charset=utf-8", b"Unknown source"), query)
    classic = _case("GET", "/application")
    assert only_protocol_500s(None, _response(500, "text/html;charset=utf-8", b"Unknown source"), classic)
    assert only_protocol_500s(None, _response(200, "application/json", b"[]"), query) is None


def test_ruby_exception_500s_are_checked_per_operation_and_content_type() -> None:
    query = _case("GET", "/app/v1/nosuch")
    assert only_protocol_500s(None, _response(500, "text/plain", b"wrong constant name nosuch"), query)
    with pytest.raises(AssertionError, match="not declared"):  # the right message, the wrong type
        only_protocol_500s(
            None, _response(500, "text/html;charset=utf-8", b"wrong constant name nosuch"), query
        )
    search = _case("POST", "/rc/v1/app/search")
    body = b"undefined method 'to_i' for an instance of Hash"
    assert only_protocol_500s(None, _response(500, "application/json", body), search)
    with pytest.raises(AssertionError, match="not declared"):  # not a message search can give
        only_protocol_500s(
            None, _response(500, "application/json", b"undefined method 'to_sym' for nil"), search
        )
    login = _case("POST", "/rc/v1/app/login")
    assert only_protocol_500s(
        None, _response(500, "text/plain", b"no implicit conversion of nil into Hash"), login
    )
    with pytest.raises(AssertionError, match="undocumented 500"):
        only_protocol_500s(None, _response(500, "text/plain", b"NoMethodError at /"), login)
