"""Every fault action through real HTTP: what the client gets back, byte for byte where it matters."""

from __future__ import annotations

import io
import json
import time
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from rhoconnect_mock import MockServer
from test_faults_support import Rc


@pytest.fixture
def rc(rhoconnect_mock: MockServer) -> Rc:
    return Rc(rhoconnect_mock.base_url)


# -- status and headers ----------------------------------------------------------------------------


def test_status_500_defaults_to_the_real_unknown_client_body(rhoconnect_mock: MockServer, rc: Rc) -> None:
    rhoconnect_mock.fail("query", status=500, times=1)
    response = rc.query()
    assert response.status_code == 500
    assert response.text == "Unknown client"
    assert response.headers["Content-Type"] == "text/html;charset=utf-8"
    assert response.headers["Cache-Control"] == "no-cache"
    # once: the next query is the real page
    assert rc.query().json()[0] == {"version": 3}


def test_status_401_defaults_to_not_authenticated_text_plain(rhoconnect_mock: MockServer, rc: Rc) -> None:
    rhoconnect_mock.fail("cud", status=401)
    response = rc.push(create={"t1": {"name": "x"}})
    assert (response.status_code, response.text) == (401, "Not authenticated")
    assert response.headers["Content-Type"] == "text/plain"
    # the handler did not run: no link arrives for t1
    assert "links" not in rc.query().json()[5]


@pytest.mark.parametrize(("status", "body"), [(404, "Not Found"), (502, "Bad Gateway"), (503, "")])
def test_any_status_with_any_body(rhoconnect_mock: MockServer, rc: Rc, status: int, body: str) -> None:
    rhoconnect_mock.fail("clientcreate", status=status, body=body, headers={"Retry-After": "3"})
    response = rc.http.post(f"{rc.base}/rc/v1/clients", timeout=10)
    assert (response.status_code, response.text) == (status, body)
    assert response.headers["Retry-After"] == "3"


def test_json_body_is_sent_as_application_json(rhoconnect_mock: MockServer, rc: Rc) -> None:
    rhoconnect_mock.fail("query", status=503, body={"error": "maintenance"})
    response = rc.query()
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/json"
    assert response.content == b'{"error":"maintenance"}'


def test_status_after_the_handler_ran_loses_the_answer_not_the_change(
    rhoconnect_mock: MockServer, rc: Rc
) -> None:
    rhoconnect_mock.fail("cud", status=502, run_handler=True, times=1)
    response = rc.push(update={"1": {"name": "changed"}})
    assert response.status_code == 502
    assert rhoconnect_mock.state.records("Product", "alice")["1"]["name"] == "changed"


def test_header_overrides_set_and_remove(rhoconnect_mock: MockServer, rc: Rc) -> None:
    rhoconnect_mock.fail(
        "query",
        "headers",
        set={"X-Extra": "1", "Content-Type": "text/plain"},
        remove=["Cache-Control", "X-Rhoconnect-PAGE-TOKEN"],
    )
    response = rc.query(p_size=2)
    assert response.status_code == 200
    assert response.headers["X-Extra"] == "1"
    assert response.headers["Content-Type"] == "text/plain"
    assert "Cache-Control" not in response.headers
    assert "X-Rhoconnect-PAGE-TOKEN" not in response.headers
    assert response.json()[2] == {"count": 2}


# -- adapter errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["login", "query", "logoff"])
def test_source_errors_arrive_in_the_next_page(rhoconnect_mock: MockServer, rc: Rc, stage: str) -> None:
    rhoconnect_mock.fail("query", f"{stage}-error", message=f"{stage} broke", times=1)
    page = rc.query(p_size=5).json()
    assert page[5]["source-error"] == {f"{stage}-error": {"message": f"{stage} broke"}}
    # one failed adapter run: the next run works and the error is gone
    assert "source-error" not in rc.query(p_size=5).json()[5]


def test_create_error_for_a_given_object(rhoconnect_mock: MockServer, rc: Rc) -> None:
    rhoconnect_mock.fail("cud", "create-error", objects=["t1"], message="duplicate", times=1)
    assert rc.push(create={"t1": {"name": "Pen"}}).status_code == 200
    content = rc.query(p_size=1).json()[5]
    assert content["create-error"] == {"t1": {"name": "Pen"}, "t1-error": {"message": "duplicate"}}


def test_update_error_comes_with_the_rollback(rhoconnect_mock: MockServer, rc: Rc) -> None:
    held = rc.sync_all(p_size=50)
    rhoconnect_mock.fail("cud", "update-error", count=1, message="bad price")
    rc.push(update={"3": {"price": "-1"}})
    content = rc.query().json()[5]
    assert content["update-error"] == {"3": {"price": "-1"}, "3-error": {"message": "bad price"}}
    assert content["update-rollback"] == {"3": held["3"]}


def test_update_errors_for_the_next_n_pushed_objects(rhoconnect_mock: MockServer, rc: Rc) -> None:
    rc.sync_all(p_size=50)
    rhoconnect_mock.fail("cud", "update-error", count=2, message="busy", times=1)
    rc.push(update={"5": {"name": "a"}, "6": {"name": "b"}, "7": {"name": "c"}})
    errors = rc.query().json()[5]["update-error"]
    assert errors == {
        "5": {"name": "a"},
        "5-error": {"message": "busy"},
        "6": {"name": "b"},
        "6-error": {"message": "busy"},
    }
    assert rhoconnect_mock.state.records("Product", "alice")["7"]["name"] == "c"
    assert rhoconnect_mock.state.records("Product", "alice")["5"]["name"] != "a"


def test_delete_error_for_the_next_pushed_object(rhoconnect_mock: MockServer, rc: Rc) -> None:
    rc.sync_all(p_size=50)
    rhoconnect_mock.fail("cud", "delete-error", count=1, message="locked")
    rc.push(delete={"4": {"name": "x"}})
    content = rc.query().json()[5]
    assert content["delete-error"] == {"4": {"name": "x"}, "4-error": {"message": "locked"}}
    assert "4" in rhoconnect_mock.state.records("Product", "alice")


def test_search_error_in_the_real_layout(rhoconnect_mock: MockServer, rc: Rc) -> None:
    rhoconnect_mock.fail("search", "search-error", message="no search today")
    response = rc.search(name="x")
    assert response.json() == [
        [
            {"version": 3},
            {"source": "Product"},
            {"search-error": {"search-error": {"message": "no search today"}}},
        ]
    ]


# -- page mutations --------------------------------------------------------------------------------


def test_wrong_version(rhoconnect_mock: MockServer, rc: Rc) -> None:
    rhoconnect_mock.fail("query", "wrong_version", version=2)
    page = rc.query(p_size=1).json()
    assert page[0] == {"version": 2}
    assert page[1]["token"] != ""


def test_empty_array(rhoconnect_mock: MockServer, rc: Rc) -> None:
    rhoconnect_mock.fail_flag("query:empty-array:once")
    response = rc.query(p_size=1)
    assert (response.status_code, response.content) == (200, b"[]")
    assert response.headers["Content-Type"] == "application/json"


def test_elements_out_of_order(rhoconnect_mock: MockServer, rc: Rc) -> None:
    rhoconnect_mock.fail("query", "out_of_order", order=[1, 0, 2, 3, 4, 5], nth=1)
    page = rc.query(p_size=1).json()
    assert list(page[0]) == ["token"] and page[1] == {"version": 3}
    rhoconnect_mock.fail("query", "out_of_order", times=1)  # default: reversed
    page = rc.query(p_size=1).json()
    assert [next(iter(e)) for e in page[1:]] == ["total_count", "progress_count", "count", "token", "version"]


def test_malformed_json(rhoconnect_mock: MockServer, rc: Rc) -> None:
    rhoconnect_mock.fail("query", "malformed_json", times=1)
    response = rc.query(p_size=0)
    assert response.status_code == 200
    page = '[{"version":3},{"token":""},{"count":0},{"progress_count":0},{"total_count":25},{}]'
    assert response.text == page[:-1]
    with pytest.raises(requests.JSONDecodeError):
        response.json()


def test_schema_changed() -> None:
    config = {
        "sources": {"Fixed": {"records": 3, "schema": {"version": "1.0", "property": {"name": "string"}}}}
    }
    with MockServer(config) as server:
        rc = Rc(server.base_url)
        rc.sync_all("Fixed")
        server.fail("query", "schema_changed", source="Fixed", times=1)
        page = rc.query("Fixed").json()
        assert page[5] == {"schema-changed": "true"}
        assert page[1]["token"] != "" and page[4] == {"total_count": 0}


# -- bulk ------------------------------------------------------------------------------------------


def test_bulk_wait_n_times_then_the_real_answer(rhoconnect_mock: MockServer, rc: Rc) -> None:
    rhoconnect_mock.fail("bulk_data", "wait", times=2)
    answers = [rc.bulk_data().json() for _ in range(2)]
    assert answers == [{"result": "wait"}, {"result": "wait"}]
    for _ in range(5):  # then the real bulk engine answers (it may ask to wait on its own)
        answer = rc.bulk_data().json()
        if answer["result"] == "url":
            break
    assert answer["result"] == "url" and answer["url"].endswith(".data")
    rule_id = rhoconnect_mock.faults()[0]["id"]
    faulted = [e.faults for e in rhoconnect_mock.journal(operation="bulk_data")]
    assert faulted[:3] == [[rule_id], [rule_id], []]


@pytest.mark.parametrize(
    ("flag", "expected"), [("nop", b'{"result":"nop"}'), ("empty-url", b'{"result":"url","url":""}')]
)
def test_bulk_nop_and_empty_url(rhoconnect_mock: MockServer, rc: Rc, flag: str, expected: bytes) -> None:
    rhoconnect_mock.fail_flag(f"bulk_data:{flag}")
    response = rc.bulk_data()
    assert (response.status_code, response.content) == (200, expected)
    assert response.headers["Content-Type"] == "application/json"


def _bulk_url(rc: Rc) -> str:
    for _ in range(10):
        answer = rc.bulk_data().json()
        if answer["result"] == "url":
            return str(answer["url"])
    raise AssertionError("bulk file never ready")


def test_corrupt_rzip(rhoconnect_mock: MockServer, rc: Rc) -> None:
    url = rc.base + _bulk_url(rc) + ".rzip"
    good = requests.get(url, timeout=10).content
    zipfile.ZipFile(io.BytesIO(good)).testzip()
    rhoconnect_mock.fail("bulk_file", "corrupt_file", times=1)
    bad = requests.get(url, timeout=10)
    assert bad.status_code == 200 and len(bad.content) == len(good) and bad.content != good
    with pytest.raises((zipfile.BadZipFile, zlib.error)), zipfile.ZipFile(io.BytesIO(bad.content)) as archive:
        for name in archive.namelist():
            archive.read(name)


def test_truncated_rzip(rhoconnect_mock: MockServer, rc: Rc) -> None:
    url = rc.base + _bulk_url(rc) + ".rzip"
    good = requests.get(url, timeout=10).content
    rhoconnect_mock.fail_flag("bulk_file:truncate-file:once")
    bad = requests.get(url, timeout=10)
    assert bad.content == good[: len(good) // 2]
    assert int(bad.headers["Content-Length"]) == len(good) // 2
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(bad.content))


# -- session and backend -----------------------------------------------------------------------------


def test_session_expires_after_n_requests(rhoconnect_mock: MockServer, rc: Rc) -> None:
    rhoconnect_mock.fail_flag("query:expire-session=2")
    assert rc.query(p_size=0).status_code == 200
    assert rc.query(p_size=0).status_code == 200
    expired = rc.query(p_size=0)
    assert (expired.status_code, expired.text) == (401, "Not authenticated")
    assert expired.headers["Content-Type"] == "text/plain"
    assert rc.query(p_size=0).status_code == 401
    rc.login_as("alice")  # a new session lives two more requests
    assert [rc.query(p_size=0).status_code for _ in range(3)] == [200, 200, 401]


def test_session_expiry_counts_per_user(rhoconnect_mock: MockServer) -> None:
    alice, bob = Rc(rhoconnect_mock.base_url, "alice"), Rc(rhoconnect_mock.base_url, "bob")
    rhoconnect_mock.fail("query", "expire-session", after=1)
    assert [alice.query(p_size=0).status_code for _ in range(2)] == [200, 401]
    assert bob.query(p_size=0).status_code == 200
    bob.login_as("bob")
    assert alice.query(p_size=0).status_code == 401  # bob's login does not renew alice's session
    alice.login_as("alice")
    assert [alice.query(p_size=0).status_code for _ in range(2)] == [200, 401]


def test_backend_changes_between_pages_reach_the_client(rhoconnect_mock: MockServer, rc: Rc) -> None:
    rhoconnect_mock.add_fault(
        {
            "match": {"operation": "query", "source": "Product"},
            "when": {"nth": 1},
            "action": {
                "type": "backend_change",
                "insert": {"new-1": {"name": "Inserted"}},
                "update": {"20": {"name": "Updated"}},
                "delete": ["24"],
            },
        }
    )
    held = rc.sync_all(p_size=10)
    records = rhoconnect_mock.state.records("Product", "alice")
    assert held == {k: dict(v) for k, v in records.items()}
    assert held["new-1"] == {"name": "Inserted"} and held["20"]["name"] == "Updated" and "24" not in held
    assert len(rhoconnect_mock.journal(operation="query", faults=rhoconnect_mock.faults()[0]["id"])) == 1


def test_classic_family_is_faulted_too(rhoconnect_mock: MockServer, rc: Rc) -> None:
    rhoconnect_mock.fail("query", status=500, family="classic")
    assert rc.query(p_size=0).status_code == 200
    response = rc.classic_query(p_size=0)
    assert (response.status_code, response.text) == (500, "Unknown client")
    # A faulted answer stands for a failed route condition, and RhoConnect 7.8 adds the deprecation
    # Warning only to answers that passed them (recorded exchange errors-26).
    assert "Warning" not in response.headers


def test_rules_match_user_and_source(rhoconnect_mock: MockServer) -> None:
    alice, bob = Rc(rhoconnect_mock.base_url, "alice"), Rc(rhoconnect_mock.base_url, "bob")
    rhoconnect_mock.fail("query", status=503, user="bob", source="Product")
    assert alice.query(p_size=0).status_code == 200
    assert bob.query(p_size=0).status_code == 503
    assert bob.query("Other", p_size=0).status_code == 200
    assert json.loads(alice.query(p_size=0).text)[0] == {"version": 3}


def test_admin_requests_are_never_faulted(rhoconnect_mock: MockServer, rc: Rc) -> None:
    rhoconnect_mock.fail(status=500)  # any protocol operation
    assert rc.query(p_size=0).status_code == 500
    assert requests.get(rhoconnect_mock.admin_url + "faults", timeout=10).status_code == 200
    assert requests.post(rhoconnect_mock.admin_url + "reset", timeout=10).status_code == 200


def test_delay_before_the_handler(rhoconnect_mock: MockServer, rc: Rc) -> None:
    rhoconnect_mock.fail("cud", "delay", seconds=0.3, before_handler=True, times=1)
    with pytest.raises(requests.exceptions.ReadTimeout):
        rc.http.post(
            f"{rc.base}/app/v1/Product",
            json={"update": {"1": {"name": "late"}}},
            headers={"X-RhoConnect-CLIENT-ID": rc.client_id},
            timeout=0.1,
        )
    # the server still handles the request once the delay is over, as a real slow server would
    for _ in range(50):
        if rhoconnect_mock.state.records("Product", "alice")["1"]["name"] == "late":
            break
        time.sleep(0.02)
    assert rhoconnect_mock.state.records("Product", "alice")["1"]["name"] == "late"


def test_a_limited_rule_fires_exactly_its_times_under_concurrency(rhoconnect_mock: MockServer) -> None:
    clients = [Rc(rhoconnect_mock.base_url, f"user{i}") for i in range(8)]
    rhoconnect_mock.fail("query", status=503, times=5)
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda c: [c.query(p_size=0).status_code for _ in range(5)], clients))
    flat = [s for per_client in statuses for s in per_client]
    assert flat.count(503) == 5 and flat.count(200) == 35
    [rule] = rhoconnect_mock.faults()
    assert (rule["hits"], rule["fired"], rule["exhausted"]) == (5, 5, True)
    assert len(rhoconnect_mock.journal(operation="query")) == 40


def test_a_search_adapter_error_matched_on_one_source_fails_that_source_only() -> None:
    config = {"sources": {"Product": {"records": 3}, "Customer": {"records": 3}}}
    with MockServer(config) as server:
        rc = Rc(server.base_url)
        server.fail("search", "adapter_error", source="Product", stage="search", message="p down")
        body = {"sources": [{"name": "Product"}, {"name": "Customer"}], "search": {"name": "x"}, "p_size": 10}
        answer = rc.http.post(
            f"{server.base_url}/rc/v1/app/search",
            json=body,
            headers={"X-RhoConnect-CLIENT-ID": rc.client_id},
            timeout=10,
        ).json()
        assert answer[0] == [
            {"version": 3},
            {"source": "Product"},
            {"search-error": {"search-error": {"message": "p down"}}},
        ]
        assert all("search-error" not in element for sub in answer[1:] for element in sub)
