"""The fast page encoding writes exactly the bytes of the standard library's compact JSON."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rhoconnect_mock.encoding import encode, reference_encode

_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=20)
_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_values)
def test_encode_matches_the_standard_library(value: Any) -> None:
    assert encode(value) == reference_encode(value)


@pytest.mark.parametrize(
    "value",
    [
        {"big": 2**70},  # beyond orjson's 64-bit integers
        {1: "non-string key"},
        ['\x00\x1f\x7f\u2028\u2029é😀"\\'],
    ],
)
def test_what_orjson_refuses_or_escapes_differently_still_matches(value: Any) -> None:
    assert encode(value) == reference_encode(value)


def test_a_lone_surrogate_fails_as_it_did() -> None:
    with pytest.raises(UnicodeEncodeError):
        encode({"a": "\ud800"})


def test_fresh_pages_reuse_one_encoding_and_keep_the_reference_bytes() -> None:
    import json

    from rhoconnect_mock import create_app

    app = create_app({"records": {"Product": 7}})
    bodies: list[list[bytes]] = []
    for user in ("ann", "bob"):  # two owners: two master documents over one dataset
        web = app.test_client()
        assert web.post("/rc/v1/app/login", json={"login": user, "password": "p"}).status_code == 200
        cid = web.post("/rc/v1/clients").get_json()["client"]["client_id"]
        token, pages = "", []
        while True:
            query = {"client_id": cid, "p_size": 3, **({"token": token} if token else {})}
            body = web.get("/app/v1/Product", query_string=query).data
            assert reference_encode(json.loads(body)) == body
            pages.append(body)
            token = json.loads(body)[1]["token"]
            if not token:
                break
        bodies.append([json.dumps(json.loads(b)[5]).encode() for b in pages])
    assert bodies[0] == bodies[1] and len(bodies[0]) == 4  # 3 + 3 + 1 objects, then the empty page
