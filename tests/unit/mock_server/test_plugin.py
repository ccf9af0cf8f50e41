"""The pytest plugin, run on generated test files with ``pytester`` (loaded by its entry point)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

HELPERS = """
import pytest
import requests

def client(server):
    http = requests.Session()
    assert http.post(server.base_url + "/rc/v1/app/login",
                     json={"login": "alice", "password": "x"}, timeout=10).status_code == 200
    response = http.post(server.base_url + "/rc/v1/clients", timeout=10)
    return http, response

def query(server, http, cid):
    return http.get(server.base_url + "/app/v1/Product", params={"p_size": 0},
                    headers={"X-RhoConnect-CLIENT-ID": cid}, timeout=10)
"""

# The README example, kept verbatim so the documentation cannot rot.
README_EXAMPLE = """
import pytest
import requests

@pytest.mark.rhoconnect_faults("query:500:once")
def test_client_survives_a_server_error(rhoconnect_mock):
    http = requests.Session()
    http.post(f"{rhoconnect_mock.base_url}/rc/v1/app/login", json={"login": "alice", "password": "pw"})
    cid = http.post(f"{rhoconnect_mock.base_url}/rc/v1/clients").json()["client"]["client_id"]
    url = f"{rhoconnect_mock.base_url}/app/v1/Product"
    assert http.get(url, headers={"X-RhoConnect-CLIENT-ID": cid}).status_code == 500
    assert http.get(url, headers={"X-RhoConnect-CLIENT-ID": cid}).json()[0] == {"version": 3}
    rhoconnect_mock.journal().assert_order({"operation": "query", "status": 500},
                                           {"operation": "query", "status": 200})
"""


def test_fixture_gives_a_running_server_with_fresh_state_per_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HELPERS
        + """
ports = []

def test_first(rhoconnect_mock):
    http, response = client(rhoconnect_mock)
    assert response.status_code == 200
    rhoconnect_mock.fail("query", status=500)
    rhoconnect_mock.state.backend_delete("Product", "alice", "1")
    ports.append(rhoconnect_mock.port)

def test_second(rhoconnect_mock):
    assert rhoconnect_mock.state.clients() == []
    assert rhoconnect_mock.faults() == []
    assert len(rhoconnect_mock.journal()) == 0
    assert "1" in rhoconnect_mock.state.records("Product", "alice")
    ports.append(rhoconnect_mock.port)
    assert ports[0] == ports[1]  # one server per session, reset between tests
"""
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_marker_declares_faults(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HELPERS
        + """
@pytest.mark.rhoconnect_faults("query:503:once",
                               {"match": {"operation": "clientcreate"}, "times": 1,
                                "action": {"type": "status", "status": 502}})
def test_strings_and_dicts(rhoconnect_mock):
    http, response = client(rhoconnect_mock)
    assert response.status_code == 502
    cid = http.post(rhoconnect_mock.base_url + "/rc/v1/clients").json()["client"]["client_id"]
    assert [query(rhoconnect_mock, http, cid).status_code for _ in range(2)] == [503, 200]

@pytest.mark.rhoconnect_faults(operation="query", status=500, nth=2)
def test_keywords(rhoconnect_mock):
    http, response = client(rhoconnect_mock)
    cid = response.json()["client"]["client_id"]
    assert [query(rhoconnect_mock, http, cid).status_code for _ in range(3)] == [200, 500, 200]

@pytest.mark.rhoconnect_faults("query:404")
class TestClassMarker:
    @pytest.mark.rhoconnect_faults("clientcreate:501:once")
    def test_both_apply(self, rhoconnect_mock):
        http, response = client(rhoconnect_mock)
        assert response.status_code == 501
        assert [r["action"]["status"] for r in rhoconnect_mock.faults()] == [404, 501]
"""
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_an_unexpected_mock_error_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HELPERS
        + """
def test_passes_its_own_assertions(rhoconnect_mock, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("paging engine exploded")
    monkeypatch.setattr(rhoconnect_mock.state, "query_page", broken)
    http, response = client(rhoconnect_mock)
    assert query(rhoconnect_mock, http, response.json()["client"]["client_id"]).status_code == 500

def test_next_test_is_clean(rhoconnect_mock):
    assert rhoconnect_mock.mock_errors() == []
"""
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*the mock RhoConnect server raised 1 unexpected error(s):*",
            "*GET /app/v1/Product (query):*",
            "*RuntimeError: paging engine exploded*",
        ]
    )


def test_a_bad_marker_rule_is_an_error_naming_the_field(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
import pytest

@pytest.mark.rhoconnect_faults({"action": {"type": "status", "status": 42}})
def test_bad(rhoconnect_mock):
    pass
""")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*FaultRuleError: action.status: must be an integer between 100 and 599*"])


def test_config_fixture_can_be_overridden(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
import pytest

@pytest.fixture(scope="session")
def rhoconnect_mock_config():
    return {"sources": {"Customer": {"records": 3}}, "seed": 5}
""")
    pytester.makepyfile("""
def test_config(rhoconnect_mock):
    assert list(rhoconnect_mock.state.sources) == ["Customer"]
    assert len(rhoconnect_mock.state.records("Customer", "anyone")) == 3
""")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_readme_example(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(README_EXAMPLE)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_marker_is_registered_by_the_plugin(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.rhoconnect_faults(*rules, **fail_kwargs): *"])
