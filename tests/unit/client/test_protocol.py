"""The wire codec against pages recorded from RhoConnect 7.8 and against Rhodes parser rules."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rhoconnect_client.exceptions import ProtocolError, SyncVersionError
from rhoconnect_client.protocol import (
    BulkAnswer,
    ObjectError,
    PushBatch,
    login_body,
    parse_bulk_data,
    parse_client_create,
    parse_page,
    parse_search,
    push_body,
)

# Verbatim from reference/rhoconnect-7.8-transcript.md and the errors transcript.
LINKS_PAGE = (
    '[{"version":3},{"token":"564895898712963"},{"count":0},{"progress_count":0},{"total_count":25},'
    '{"links":{"temp-1":{"l":"new-1"}}}]'
)
LAST_PAGE = '[{"version":3},{"token":""},{"count":0},{"progress_count":0},{"total_count":25},{}]'
INSERT_PAGE = (
    '[{"version":3},{"token":"564896330295993"},{"count":3},{"progress_count":0},{"total_count":25},'
    '{"insert":{"23":{"name":"Product 23","brand":"Brand 2"},"25":{"name":"Product 25"},'
    '"13":{"name":"Product 13"}}}]'
)
UPDATE_ERROR_PAGE = (
    '[{"version":3},{"token":"564896331436558"},{"count":0},{"progress_count":0},{"total_count":4},'
    '{"links":{"temp-c":{"l":"b-2"}},'
    '"update-error":{"1":{"qty":"100"},"1-error":{"message":"update rejected"}},'
    '"update-rollback":{"1":{"name":"Broken 1","qty":"1"}}}]'
)
CREATE_ERROR_PAGE = (
    '[{"version":3},{"token":""},{"count":0},{"progress_count":0},{"total_count":3},'
    '{"create-error":{"temp-a":{"name":"please fail","qty":"7"},'
    '"temp-a-error":{"message":"cannot create \'please fail\'"}}}]'
)
DELETE_ERROR_PAGE = (
    '[{"version":3},{"token":""},{"count":0},{"progress_count":0},{"total_count":4},'
    '{"delete-error":{"3-error":{"message":"delete rejected"},"3":{"name":"Broken 3","qty":"3"}}}]'
)
SOURCE_ERROR_PAGE = (
    '[{"version":3},{"token":""},{"count":0},{"progress_count":0},{"total_count":3},'
    '{"source-error":{"query-error":{"message":"query exploded"}}}]'
)
METADATA_PAGE = (
    '[{"version":3},{"token":"564896331624302"},{"count":1},{"progress_count":0},{"total_count":4},'
    '{"insert":{"f2":{"name":"Fixed 2"}},"metadata":"{\\"title\\":\\"Fixed items\\"}"}]'
)
SCHEMA_PAGE = (
    '[{"version":3},{"token":"564896331657573"},{"count":0},{"progress_count":0},{"total_count":0},'
    '{"schema-changed":"true"}]'
)


def test_insert_page_fields() -> None:
    page = parse_page(INSERT_PAGE.encode())
    assert page.version == 3
    assert page.token == 564896330295993
    assert (page.count, page.progress_count, page.total_count) == (3, 0, 25)
    assert list(page.insert) == ["23", "25", "13"]  # server order kept
    assert page.insert["23"] == {"name": "Product 23", "brand": "Brand 2"}
    assert page.delete == {} and page.links == {} and page.errors is None
    assert page.object_count == 3
    assert not page.schema_changed and page.metadata is None


def test_empty_token_means_zero_and_empty_hash() -> None:
    page = parse_page(LAST_PAGE)
    assert page.token == 0 and page.object_count == 0 and page.total_count == 25


def test_links_page() -> None:
    page = parse_page(LINKS_PAGE)
    assert page.links == {"temp-1": "new-1"}
    assert page.count == 0 and page.object_count == 0


def test_metadata_and_schema_changed() -> None:
    assert parse_page(METADATA_PAGE).metadata == '{"title":"Fixed items"}'
    assert parse_page(SCHEMA_PAGE).schema_changed is True


def test_object_errors_pair_regardless_of_key_order() -> None:
    page = parse_page(UPDATE_ERROR_PAGE)
    assert page.errors is not None
    assert page.errors.update == {"1": ObjectError("update rejected", {"qty": "100"})}
    assert page.errors.update_rollback == {"1": {"name": "Broken 1", "qty": "1"}}
    deleted = parse_page(DELETE_ERROR_PAGE).errors
    assert deleted is not None
    assert deleted.delete == {"3": ObjectError("delete rejected", {"name": "Broken 3", "qty": "3"})}


def test_server_errors_notification_shape_matches_seed() -> None:
    errors = parse_page(CREATE_ERROR_PAGE).errors
    assert errors is not None
    assert errors.to_notification() == {
        "create-error": {
            "temp-a": {
                "message": "cannot create 'please fail'",
                "attributes": {"name": "please fail", "qty": "7"},
            }
        }
    }
    update = parse_page(UPDATE_ERROR_PAGE).errors
    assert update is not None
    assert update.to_notification() == {
        "update-error": {"1": {"message": "update rejected", "attributes": {"qty": "100"}}},
        "update-rollback": {"1": {"attributes": {"name": "Broken 1", "qty": "1"}}},
    }
    source = parse_page(SOURCE_ERROR_PAGE).errors
    assert source is not None
    assert source.to_notification() == {"query-error": {"message": "query exploded"}}


def test_order_sensitive_parser_skips_out_of_order_header_into_command_slot() -> None:
    # total_count before count: Rhodes reads total_count, then takes {"count":..} as the command hash.
    page = parse_page(
        '[{"version":3},{"token":"5"},{"total_count":9},{"count":2},{"insert":{"1":{"a":"b"}}}]'
    )
    assert page.total_count == 9 and page.count == 0
    assert page.insert == {}


def test_missing_optional_headers_default_to_zero() -> None:
    page = parse_page('[{"version":3},{"insert":{"1":{"a":"b"}}}]')
    assert page.token == 0 and page.count == 0 and page.insert == {"1": {"a": "b"}}


@pytest.mark.parametrize(
    "body",
    ["[]", "", "not json", '[{"version":3},{"token":"12', b"\xff\xfe", '{"version":3}', "[1,2]"],
)
def test_malformed_pages_raise_protocol_error(body: str | bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_page(body)
    assert info.value.rho_error_code in (4, 11)
    assert info.value.error_code == info.value.rho_error_code


@pytest.mark.parametrize("first", ['{"version":2}', '{"version":"4"}', '{"token":""}', "{}"])
def test_wrong_version_raises_sync_version_error(first: str) -> None:
    with pytest.raises(SyncVersionError) as info:
        parse_page(f"[{first},{{}}]")
    assert info.value.rho_error_code == 11


@pytest.mark.parametrize(
    "cmd",
    [
        '{"insert":[1]}',
        '{"insert":{"1":"x"}}',
        '{"links":{"t":"x"}}',
        '{"delete":{"1":{"a":[1]}}}',
        '"x"',
    ],
)
def test_bad_command_hash_is_protocol_error(cmd: str) -> None:
    with pytest.raises(ProtocolError):
        parse_page(f'[{{"version":3}},{{"token":"1"}},{cmd}]')


@pytest.mark.parametrize("token", ['"abc"', '"-5"', '"18446744073709551616"', "true"])
def test_bad_token_is_protocol_error(token: str) -> None:
    with pytest.raises(ProtocolError):
        parse_page(f'[{{"version":3}},{{"token":{token}}},{{}}]')


def test_non_string_values_are_stored_as_text() -> None:
    page = parse_page('[{"version":3},{"insert":{"1":{"n":5,"f":1.5,"b":true,"z":null}}}]')
    assert page.insert["1"] == {"n": "5", "f": "1.5", "b": "true", "z": ""}


def test_search_answers() -> None:
    pages = parse_search(
        '[[{"version":3},{"token":"564895898764068"},{"source":"Product"},{"count":1},'
        '{"insert":{"3":{"name":"Product 3"}}}]]'
    )
    assert len(pages) == 1
    assert pages[0].source == "Product" and pages[0].token == 564895898764068 and pages[0].count == 1
    assert parse_search("[[]]") == []
    err = parse_search(
        '[[{"version":3},{"source":"Broken"},{"search-error":{"search-error":{"message":"m"}}}]]'
    )
    assert err[0].errors is not None
    assert err[0].errors.to_notification() == {"search-error": {"message": "m"}}
    with pytest.raises(ProtocolError):
        parse_search('[[{"version":3},{"token":"1"},{"count":1},{}]]')  # no source
    with pytest.raises(ProtocolError):
        parse_search('[{"version":3}]')
    with pytest.raises(SyncVersionError):
        parse_search('[[{"version":2},{"source":"A"},{}]]')


def test_login_body_bytes() -> None:
    assert login_body("alice", "secret") == b'{"login":"alice","password":"secret","remember_me":1}'


def test_push_body_key_order_and_blob_fields(tmp_path: object) -> None:
    from pathlib import Path

    batch = PushBatch(
        create={"t1": {"name": "Pen"}},
        update={"44": {"price": "1.25"}},
        delete={"12": {"name": "Old"}},
        blobs={"image_uri-t1": Path("/x/a.png"), "image_uri-44": Path("/x/b.png")},
    )
    body = push_body("Product", "c1", batch)
    assert list(body) == ["source_name", "client_id", "create", "update", "delete", "blob_fields"]
    assert body["blob_fields"] == ["image_uri"]
    assert push_body("Product", "c1", PushBatch(update={"1": {"a": "b"}})) == {
        "source_name": "Product",
        "client_id": "c1",
        "update": {"1": {"a": "b"}},
    }
    assert (
        json.dumps(push_body("P", "c", PushBatch(push_changes=True)))
        == '{"source_name": "P", "client_id": "c"}'
    )


def test_client_create_and_bulk_data() -> None:
    assert parse_client_create('{"client":{"client_id":"0f3c"}}') == "0f3c"
    for bad in ('{"client":{}}', "[]", "x", '{"client":{"client_id":""}}'):
        with pytest.raises(ProtocolError):
            parse_client_create(bad)
    assert parse_bulk_data('{"result":"wait"}') == BulkAnswer("wait")
    assert parse_bulk_data('{"result":"url","url":""}') == BulkAnswer("url", "")
    assert parse_bulk_data(b'{"result":"url","url":"/data/a.data"}').url == "/data/a.data"
    for bad in ('{"result":"maybe"}', '{"result":"url"}', "{", '{"result":"url","url":3}'):
        with pytest.raises(ProtocolError):
            parse_bulk_data(bad)


def test_protocol_error_keeps_a_short_body_preview() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_page("<html>" + "x" * 5000)
    assert isinstance(info.value.body, str) and len(info.value.body) < 400


ids = st.text(min_size=1, max_size=8)
attr_hashes = st.dictionaries(st.text(min_size=1, max_size=6), st.text(max_size=10), max_size=4)


@settings(max_examples=100, deadline=None)
@given(
    token=st.integers(0, 2**64 - 1),
    insert=st.dictionaries(ids, attr_hashes, max_size=5),
    delete=st.dictionaries(ids, attr_hashes, max_size=5),
    links=st.dictionaries(ids, ids, max_size=3),
    total=st.integers(0, 10**9),
)
def test_any_well_formed_page_round_trips(
    token: int,
    insert: dict[str, dict[str, str]],
    delete: dict[str, dict[str, str]],
    links: dict[str, str],
    total: int,
) -> None:
    cmd: dict[str, object] = {}
    if insert:
        cmd["insert"] = insert
    if delete:
        cmd["delete"] = delete
    if links:
        cmd["links"] = {t: {"l": r} for t, r in links.items()}
    doc = [
        {"version": 3},
        {"token": str(token) if token else ""},
        {"count": len(insert) + len(delete)},
        {"progress_count": 0},
        {"total_count": total},
        cmd,
    ]
    page = parse_page(json.dumps(doc).encode())
    assert (page.token, page.total_count, page.count) == (token, total, len(insert) + len(delete))
    assert page.insert == insert and page.delete == delete and page.links == links
    assert list(page.insert) == list(insert)  # order kept
