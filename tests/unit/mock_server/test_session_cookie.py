"""The signed session cookie: what it accepts, what it refuses, and that its memos stay bounded."""

from __future__ import annotations

import time

import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from rhoconnect_mock import create_app
from rhoconnect_mock.api import session_cookie
from rhoconnect_mock.api.session_cookie import SessionCookie


@pytest.fixture()
def app() -> Flask:
    return create_app({"sources": {"Product": {"records": 3}}, "cookie_expire": 60})


def _login(client: FlaskClient) -> str:
    r = client.post("/rc/v1/app/login", json={"login": "alice", "password": "x"})
    assert r.status_code == 200
    header = r.headers["Set-Cookie"]
    return header.split(";", 1)[0].split("=", 1)[1]


def _create_status(app: Flask, cookie: str) -> int:
    fresh = app.test_client()
    fresh.set_cookie("rhoconnect_session", cookie)
    return fresh.post("/rc/v1/clients").status_code


def test_header_has_the_attributes_of_a_rack_cookie_with_expiry(app: Flask) -> None:
    r = app.test_client().post("/rc/v1/app/login", json={"login": "alice", "password": "x"})
    header = r.headers["Set-Cookie"]
    name_value, expires, httponly, path = header.split("; ")
    assert name_value.startswith("rhoconnect_session=")
    assert expires.startswith("Expires=") and expires.endswith(" GMT")
    assert (httponly, path) == ("HttpOnly", "Path=/")
    assert "Vary" not in r.headers


def test_the_cookie_it_signed_is_a_session_in_another_client(app: Flask) -> None:
    assert _create_status(app, _login(app.test_client())) == 200


@pytest.mark.parametrize(
    "tamper",
    [
        lambda v: v[:-2] + ("AA" if not v.endswith("AA") else "BB"),  # signature
        lambda v: "e30" + v[v.index(".") :],  # payload replaced by {}
        lambda v: v.rsplit(".", 2)[0] + f".{int(time.time()) + 5}." + v.rsplit(".", 1)[1],  # time
        lambda v: "not a cookie",
        lambda v: "....",
        lambda v: "\u00e9t\u00e9.1.x",
    ],
)
def test_a_changed_or_made_up_cookie_is_no_session(app: Flask, tamper: object) -> None:
    value = _login(app.test_client())
    assert callable(tamper)
    assert _create_status(app, tamper(value)) == 401


def test_a_cookie_older_than_the_lifetime_is_no_session(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    value = _login(app.test_client())
    assert _create_status(app, value) == 200  # verified once: now remembered
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    assert _create_status(app, value) == 401


def test_a_cookie_signed_with_another_secret_is_no_session() -> None:
    one = create_app({"sources": {"Product": {"records": 1}}, "secret_key": "one"})
    two = create_app({"sources": {"Product": {"records": 1}}, "secret_key": "two"})
    value = _login(one.test_client())
    assert _create_status(one, value) == 200
    assert _create_status(two, value) == 401


def test_within_a_second_a_session_gets_the_same_header(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now)
    client = app.test_client()
    _login(client)
    first = client.post("/rc/v1/clients").headers["Set-Cookie"]
    second = client.post("/rc/v1/clients").headers["Set-Cookie"]
    assert first == second
    monkeypatch.setattr(time, "time", lambda: now + 1)
    third = client.post("/rc/v1/clients").headers["Set-Cookie"]
    assert third != first and third.split("=", 1)[0] == "rhoconnect_session"


def test_memos_stay_bounded(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_cookie, "MEMO_SIZE", 5)
    interface = app.session_interface
    assert isinstance(interface, SessionCookie)
    for _ in range(12):
        assert _create_status(app, _login(app.test_client())) == 200
    assert len(interface._verified) <= 5 and len(interface._headers) <= 5


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "rhoconnect_session=",
        "rhoconnect_session=abc.123.x-y_z",
        "rhoconnect_session=abc; other=1",
        "other=1; rhoconnect_session=abc",
        'rhoconnect_session="a\\"b"',
        "rhoconnect_session=a%20b",
        " rhoconnect_session=abc",
        "rhoconnect_sessionx=abc",
        "rhoconnect_session=abc=def",
    ],
)
def test_the_cookie_is_read_as_werkzeug_reads_it(app: Flask, header: str | None) -> None:
    headers = {"Cookie": header} if header is not None else {}
    with app.test_request_context("/", headers=headers):
        expected = request.cookies.get("rhoconnect_session")
        assert SessionCookie._cookie_value(request, "rhoconnect_session") == expected


def test_a_session_cookie_among_others_is_still_the_session(app: Flask) -> None:
    cookie = _login(app.test_client())
    fresh = app.test_client()
    fresh.set_cookie("other", "1")
    fresh.set_cookie("rhoconnect_session", cookie)
    assert fresh.post("/rc/v1/clients").status_code == 200
