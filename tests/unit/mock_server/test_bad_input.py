"""Bad input of any kind through HTTP: the real server's answer or a documented error, never a traceback.

The explicit cases pin the answer for each kind of bad input the protocol can receive (numbers
read as Ruby's ``to_i`` reads them, malformed bodies as RhoConnect's 500, unknown names as the real
server's pages). The hypothesis test throws generated garbage (parameters, JSON of any shape, raw
bytes, broken multipart) at every protocol route of a live server and checks that each answer is
one the protocol defines and that the mock raised nothing unexpected while serving it.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mock_rc import RC
from rhoconnect_mock import MockServer

HTML = "text/html;charset=utf-8"
BAD_BODY = "Server error while processing client data"
# : Every 500 body the protocol defines (docs/protocol.md#http-statuses; recorded exchanges errors-24 to
# errors-26).
PROTOCOL_500_BODIES = {"Unknown client", "Unknown source", BAD_BODY}
#: The 500s whose body is the message of the exception RhoConnect 7.8 raises on such input.
RUBY_500 = re.compile(
    r"undefined method '(empty\?|to_i|to_sym|is_pass_through\?)' for \S.*"
    r"|no implicit conversion of \w+ into Hash|wrong constant name .*|Invalid Source Name For Client"
    r"|Invalid value object: nil\. Hash is expected\.|unexpected token at ''",
    re.DOTALL,
)
CONTENT_TYPES = {"application/json", HTML, "text/plain", "application/octet-stream"}

CONFIG: dict[str, Any] = {
    "sources": {
        "Product": {"records": 25, "generator": "sequence"},
        "Catalog": {"partition": "app", "records": 3, "generator": "sequence"},
    }
}


@pytest.fixture(scope="module")
def live() -> Iterator[MockServer]:
    with MockServer(CONFIG) as server:
        yield server


@pytest.fixture
def fresh(live: MockServer) -> RC:
    return RC.signed_in(live)


def _empty_page(total: int) -> list[dict[str, Any]]:
    return [{"version": 3}, {"token": ""}, {"count": 0}, {"progress_count": 0}, {"total_count": total}, {}]


# -- page sizes and tokens -------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-5", "abc", "0x10", "-0"])
def test_page_sizes_that_read_as_zero_or_less_give_the_empty_page(fresh: RC, value: str) -> None:
    r = fresh.query(p_size=value)  # type: ignore[arg-type]
    assert (r.status_code, r.headers["Content-Type"]) == (200, "application/json")
    assert r.json() == _empty_page(25)
    assert "X-Rhoconnect-PAGE-TOKEN" not in r.headers
    assert fresh.page(p_size=100)[2] == {"count": 25}  # nothing was consumed


@pytest.mark.parametrize(("value", "count"), [("3abc", 3), ("2e5", 2), (" 4", 4), ("1_0", 10), ("", 25)])
def test_page_sizes_are_read_like_ruby_to_i(fresh: RC, value: str, count: int) -> None:
    assert fresh.page(p_size=value)[2] == {"count": count}  # type: ignore[arg-type]


def test_a_huge_page_size_is_one_page_of_everything(fresh: RC) -> None:
    page = fresh.page(p_size="9" * 40)  # type: ignore[arg-type]
    assert page[2] == {"count": 25} and page[1]["token"]


def _search_with_page_size(fresh: RC, value: Any) -> requests.Response:
    return fresh.http.post(
        fresh.base + "/rc/v1/app/search",
        json={
            "client_id": fresh.client_id,
            "sources": [{"name": "Product"}],
            "search": {"brand": "B"},
            "p_size": value,
        },
    )


def test_search_page_size_null_or_text_without_digits_is_read_like_ruby(fresh: RC) -> None:
    for value in (None, "x1"):
        r = _search_with_page_size(fresh, value)
        assert (r.status_code, r.headers["Content-Type"]) == (200, "application/json"), value


@pytest.mark.parametrize(
    ("value", "receiver"),
    [([1], "an instance of Array"), ({"a": 1}, "an instance of Hash"), (True, "true:TrueClass")],
)
def test_search_page_size_without_to_i_is_the_real_servers_500(fresh: RC, value: Any, receiver: str) -> None:
    r = _search_with_page_size(fresh, value)
    assert (r.status_code, r.headers["Content-Type"]) == (500, "application/json")
    assert r.text == f"undefined method 'to_i' for {receiver}"


@pytest.mark.parametrize("token", ["abc", "-1", "9" * 40, "1.5", "\u00e9"])
def test_tokens_nobody_issued_are_ignored_when_no_page_is_pending(fresh: RC, token: str) -> None:
    page = fresh.page(p_size=5, token=token)
    assert page[2] == {"count": 5}
    again = fresh.page(p_size=5, token="not-" + token)  # a wrong token re-sends the pending page
    assert again == page


# -- bodies -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/app/v1/Product", b"{garbage"),
        ("/app/v1/Product", b"\xff\xfe{"),
        ("/rc/v1/app/search", b"{"),
        ("/application", b"{garbage"),
        ("/application/clientlogin", b"{"),
    ],
)
def test_json_that_does_not_parse_is_the_documented_500(fresh: RC, path: str, body: bytes) -> None:
    r = fresh.http.post(
        fresh.base + path,
        data=body,
        headers={"Content-Type": "application/json", "X-RhoConnect-CLIENT-ID": fresh.client_id or ""},
    )
    assert (r.status_code, r.text, r.headers["Content-Type"]) == (500, BAD_BODY, "text/plain")


@pytest.mark.parametrize(
    ("path", "body", "what"),
    [
        ("/app/v1/Product", b"[1, 2]", "Array"),
        ("/rc/v1/app/login", b'"alice"', "String"),
        ("/rc/v1/clients", b"null", "nil"),
        ("/rc/v1/clients", b"[null,null]", "Array"),
        ("/rc/v1/app/bulk_data", b"7", "Integer"),
        ("/application/clientregister", b"true", "true"),
    ],
)
def test_json_that_is_not_an_object_is_racks_type_error(fresh: RC, path: str, body: bytes, what: str) -> None:
    r = fresh.http.post(
        fresh.base + path,
        data=body,
        headers={"Content-Type": "application/json", "X-RhoConnect-CLIENT-ID": fresh.client_id or ""},
    )
    assert (r.status_code, r.headers["Content-Type"]) == (500, "text/plain")
    assert r.text == f"no implicit conversion of {what} into Hash"


@pytest.mark.parametrize("cud", [b"{bad", b"[]", b"\xff\xfe", b'"x"'])
def test_a_bad_cud_part_is_the_documented_500(fresh: RC, cud: bytes) -> None:
    r = fresh.http.post(
        fresh.base + "/application", data={"client_id": fresh.client_id}, files={"cud": ("cud", cud)}
    )
    assert (r.status_code, r.text) == (500, BAD_BODY)


def test_broken_multipart_is_an_empty_push(fresh: RC) -> None:
    for body, ctype in (
        (
            b'--xx\r\nContent-Disposition: form-data; name="cud"\r\n\r\n{"create"',
            "multipart/form-data; boundary=xx",
        ),
        (b"no boundary at all", "multipart/form-data"),
    ):
        r = fresh.http.post(
            fresh.base + "/app/v1/Product",
            data=body,
            headers={"Content-Type": ctype, "X-RhoConnect-CLIENT-ID": fresh.client_id or ""},
        )
        assert (r.status_code, r.text, r.headers["Content-Type"]) == (200, "", HTML)
    assert fresh.page(p_size=100)[2] == {"count": 25}  # nothing was created


def test_sections_of_the_wrong_type_are_ignored_not_stored(fresh: RC, live: MockServer) -> None:
    body: dict[str, Any] = {"create": [1, 2], "update": "x", "delete": 5}
    assert fresh.push(**body).status_code == 200
    assert (
        fresh.push(create={"t1": [1], "t2": "y", "t3": {"name": ["a", {"b": 1}], "qty": None}}).status_code
        == 200
    )
    page = fresh.page(p_size=100)
    assert page[5]["links"] == {"t3": {"l": page[5]["links"]["t3"]["l"]}}
    created = live.state.records("Product", "alice")[page[5]["links"]["t3"]["l"]]
    assert created["name"] == '["a", {"b": 1}]'  # a non-string value is kept as its JSON text
    assert (
        fresh.http.put(
            fresh.base + "/app/v1/Product/1",
            json={"update": [1]},
            headers={"X-RhoConnect-CLIENT-ID": fresh.client_id or ""},
        ).status_code
        == 200
    )


def test_logins_that_are_not_text_are_refused(live: MockServer) -> None:
    for body in (
        {"login": {"a": 1}, "password": "x"},
        {"login": ["alice"], "password": "x"},
        {"login": "alice", "password": {"p": 1}},
    ):
        http = requests.Session()
        r = http.post(live.base_url + "/rc/v1/app/login", json=body)
        assert r.status_code == 401 and r.text.startswith("Unable to authenticate '"), body
        assert http.post(live.base_url + "/rc/v1/clients", json={}).status_code == 401


def test_a_numeric_login_is_its_digits(live: MockServer) -> None:
    http = requests.Session()
    assert http.post(live.base_url + "/rc/v1/app/login", json={"login": 42, "password": 7}).status_code == 200
    cid = http.post(live.base_url + "/rc/v1/clients", json={}).json()["client"]["client_id"]
    assert live.state.clients()[-1]["id"] == cid and live.state.clients()[-1]["user"] == "42"


@pytest.mark.parametrize("sources", [5, 2.5, True, {"name": "Product"}, [None, 3]])
def test_reset_with_odd_sources(fresh: RC, sources: Any) -> None:
    fresh.page(p_size=100)  # pending
    r = fresh.http.post(f"{fresh.base}/rc/v1/clients/{fresh.client_id}/reset", json={"sources": sources})
    assert (r.status_code, r.text) == (200, "")


@pytest.mark.parametrize("sources", [5, {"a": 1}, [None, 3, {"name": 7}], "Product,,Nosuch"])
def test_bulk_data_with_odd_sources(fresh: RC, sources: Any) -> None:
    r = fresh.http.post(
        fresh.base + "/rc/v1/app/bulk_data",
        json={"partition": "user", "sources": sources},
        headers={"X-RhoConnect-CLIENT-ID": fresh.client_id or ""},
    )
    assert r.status_code == 200 and r.json()["result"] in {"wait", "nop", "url"}


def test_unknown_partition_is_nop(fresh: RC) -> None:
    for partition in ("nosuch", ""):
        r = fresh.http.post(
            fresh.base + "/rc/v1/app/bulk_data",
            json={"partition": partition},
            headers={"X-RhoConnect-CLIENT-ID": fresh.client_id or ""},
        )
        assert r.json() == {"result": "nop"}, partition


# -- generated garbage --------------------------------------------------------------------------------

ROUTES = [
    ("POST", "/rc/v1/app/login"),
    ("POST", "/application/clientlogin"),
    ("POST", "/rc/v1/clients"),
    ("GET", "/application/clientcreate"),
    ("POST", "/rc/v1/clients/{cid}/register"),
    ("POST", "/application/clientregister"),
    ("POST", "/rc/v1/clients/{cid}/reset"),
    ("GET", "/application/clientreset"),
    ("GET", "/app/v1/Product"),
    ("GET", "/app/v1/Catalog"),
    ("GET", "/app/v1/{text}"),
    ("GET", "/application"),
    ("POST", "/app/v1/Product"),
    ("PUT", "/app/v1/Product/{text}"),
    ("DELETE", "/app/v1/Product/{text}"),
    ("POST", "/application"),
    ("POST", "/rc/v1/app/search"),
    ("GET", "/application/search"),
    ("POST", "/rc/v1/app/bulk_data"),
    ("GET", "/application/bulk_data"),
    ("GET", "/data/{text}"),
    ("GET", "/rc/v1/clients/{cid}"),
    ("GET", "/{text}"),
    ("OPTIONS", "/app/v1/Product"),
    ("PATCH", "/application"),
    ("HEAD", "/app/v1/Product"),
]
KEYS = [
    "p_size",
    "token",
    "client_id",
    "source_name",
    "version",
    "partition",
    "sources",
    "sources[][name]",
    "sources[][token]",
    "search[brand]",
    "resend",
    "query",
    "create[t1][name]",
    "login",
    "password",
]
texts = st.text(max_size=12)
numbers = st.sampled_from(["0", "-1", "3", "500", "9" * 25, "1e9", "0x1f", " 7", "+2", "abc", ""])
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), texts)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)
protocol_objects = st.fixed_dictionaries(
    {},
    optional={
        key: json_values
        for key in (
            "client_id",
            "source_name",
            "p_size",
            "token",
            "sources",
            "search",
            "partition",
            "create",
            "update",
            "delete",
            "login",
            "password",
            "resend",
            "device_type",
        )
    },
)
bodies = st.one_of(
    st.none(),
    st.tuples(st.just("application/json"), st.one_of(protocol_objects, json_values).map(json.dumps)),
    st.tuples(st.just("application/json"), st.binary(max_size=40)),
    st.tuples(
        st.just("application/x-www-form-urlencoded"),
        st.dictionaries(st.sampled_from(KEYS), texts, max_size=4),
    ),
    st.tuples(st.just("multipart"), st.one_of(json_values.map(json.dumps), st.binary(max_size=40))),
    st.tuples(st.just("multipart/form-data; boundary=b"), st.binary(max_size=60)),
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    route=st.sampled_from(ROUTES),
    text=texts,
    query=st.dictionaries(st.sampled_from(KEYS), st.one_of(texts, numbers), max_size=5),
    body=bodies,
    header=st.sampled_from(["good", "none", "garbage"]),
    logged_in=st.booleans(),
)
def test_generated_garbage_gets_protocol_answers(
    live: MockServer,
    route: tuple[str, str],
    text: str,
    query: dict[str, str],
    body: Any,
    header: str,
    logged_in: bool,
) -> None:
    http = requests.Session()
    cid = "none"
    if logged_in:
        http.post(live.base_url + "/rc/v1/app/login", json={"login": "fuzz", "password": "x"})
        cid = http.post(live.base_url + "/rc/v1/clients", json={}).json()["client"]["client_id"]
    method, template = route
    path = template.format(cid=cid, text=urllib.parse.quote(text, safe=""))
    headers = {"X-RhoConnect-CLIENT-ID": cid} if header == "good" else {}
    if header == "garbage":
        headers["X-RhoConnect-CLIENT-ID"] = "zz-not-a-client"
    kwargs: dict[str, Any] = {"params": query, "headers": headers, "timeout": 30}
    if body is not None:
        ctype, payload = body
        if ctype == "multipart":
            kwargs["files"] = {"cud": ("cud", payload)}
            kwargs["data"] = {"client_id": cid}
        elif ctype == "application/x-www-form-urlencoded":
            kwargs["data"] = payload
        else:
            kwargs["data"] = payload
            headers["Content-Type"] = ctype
    errors_before = len(live.mock_errors())
    r = http.request(method, live.base_url + path, **kwargs)
    ctype = r.headers.get("Content-Type")
    assert r.status_code in {200, 401, 404, 422, 500}, (r.status_code, r.text[:300])
    assert ctype in CONTENT_TYPES, ctype
    assert "Traceback" not in r.text and "Internal Server Error" not in r.text
    if r.status_code == 500 and method != "HEAD":  # HEAD: the GET answer without its body
        assert r.text in PROTOCOL_500_BODIES or RUBY_500.fullmatch(r.text), r.text[:300]
    if r.status_code == 200 and ctype == "application/json" and method != "HEAD":
        json.loads(r.content)
    assert live.mock_errors()[errors_before:] == []
