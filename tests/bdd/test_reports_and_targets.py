"""The report renderer and the "any server" modes of the conformance suites.

``test_runs_against_a_server_given_by_url`` runs every feature in a child pytest with
``--rhoconnect-url`` pointing at a mock served over HTTP like any other server: the scenarios
that steer the server must be skipped with the reason, the others must pass by reading what the
server holds, and no request may name a source the server was not said to have.
``test_steers_a_separately_started_mock`` starts ``rhoconnect-mock serve`` as its own process and
runs the features and the protocol spec against it with its admin URL: nothing is skipped.
"""

from __future__ import annotations

import html
import json
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import requests
from feature_coverage import load_results, load_scenarios
from html_report import one_line_cause, render, scenario_status
from server_settings import ServerSettings, check_server
from targets import MOCK_CONFIG_FILE, RealTarget, read_all_pages

REPO = Path(__file__).resolve().parents[2]


def _element(name: str, statuses: list[str], tags: list[str]) -> dict[str, object]:
    return {
        "name": name,
        "tags": [{"name": t} for t in tags],
        "steps": [
            {
                "keyword": "Given",
                "name": f"step {i}",
                "result": {
                    "status": s,
                    **({"error_message": "AssertionError: boom"} if s == "failed" else {}),
                },
            }
            for i, s in enumerate(statuses)
        ],
    }


def test_the_html_report_shows_features_scenarios_tags_and_failures() -> None:
    features = [
        {
            "uri": "sync/x.feature",
            "name": "Syncing",
            "description": "why it matters",
            "elements": [
                _element("works", ["passed", "passed"], ["api_dosync", "must"]),
                _element("breaks", ["passed", "failed", "skipped"], ["api_dosync", "should"]),
                _element("not here", ["skipped"], ["api_search", "mock_control"]),
            ],
        }
    ]
    page = render(features)
    assert "Syncing" in page and "sync/x.feature" in page and "why it matters" in page
    assert "@api_dosync" in page and "@mock_control" in page
    assert "AssertionError: boom" in page
    assert '<span class="passed">1 passed</span>' in page
    assert '<span class="failed">1 failed</span>' in page
    assert '<span class="skipped">1 skipped</span>' in page


def test_a_scenario_is_failed_skipped_or_passed_by_its_steps() -> None:
    assert scenario_status(_element("a", ["passed", "failed"], [])) == "failed"
    assert scenario_status(_element("b", ["passed", "skipped"], [])) == "skipped"
    assert scenario_status(_element("c", [], [])) == "skipped"
    assert scenario_status(_element("d", ["passed"], [])) == "passed"


TRACEBACK = """world = World(...)

    def step(world):
>       assert got == want, "the sync did not finish"
E       AssertionError: the sync did not finish
E       assert 3 == 4

tests/bdd/steps_app.py:10: AssertionError"""


def test_the_html_report_puts_the_cause_of_a_failure_and_the_reason_of_a_skip_first() -> None:
    failed = _element("breaks", ["passed", "failed"], [])
    failed["steps"][1]["result"]["error_message"] = TRACEBACK  # type: ignore[index]
    skipped = _element("elsewhere", ["skipped", "skipped"], ["mock_control"])
    skipped["steps"][0]["result"]["error_message"] = "Skipped: @mock_control: needs a mock"  # type: ignore[index]
    page = render([{"uri": "a.feature", "name": "A", "elements": [failed, skipped]}])
    cause = '<span class="cause failed">AssertionError: the sync did not finish</span>'
    assert f'<b class="failed">failed</b>{cause}' in page
    assert page.index(cause) < page.index("def step(world)")  # the one line first, the traceback after
    assert (
        '<b class="skipped">skipped</b><span class="cause skipped">@mock_control: needs a mock</span>' in page
    )
    assert (
        "<h2>Skipped</h2>" in page and "<td class=skipped>1</td><td>@mock_control: needs a mock</td>" in page
    )
    assert one_line_cause("\n\nsomething broke\n") == "something broke"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_pytest(*args: str, timeout: float = 850) -> subprocess.CompletedProcess[str]:
    """A pytest run of this repository in its own process, as a user would start it."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def served_mock():  # type: ignore[no-untyped-def]
    from rhoconnect_mock import MockServer

    with MockServer() as server:
        yield server


def test_a_real_target_reads_what_the_server_holds(served_mock) -> None:  # type: ignore[no-untyped-def]
    target = RealTarget(served_mock.base_url, "dora", "pw")
    records = target.records("Product")
    # The mock's default data set: 25 Product records per user, as in the recorded set-up.
    assert len(records) == 25
    assert records == {k: dict(v) for k, v in served_mock.state.records("Product", "dora").items()}
    assert read_all_pages is not None


def test_a_real_target_asks_only_about_the_sources_it_was_given(served_mock) -> None:  # type: ignore[no-untyped-def]
    served_mock.reset()
    with pytest.raises(RuntimeError, match="--rhoconnect-allow-unknown-sources"):
        RealTarget(served_mock.base_url, "dora", "pw").records("Customer")
    assert served_mock.journal() == []  # not a single request
    allowed = RealTarget(served_mock.base_url, "dora", "pw", allow_unknown_sources=True)
    assert allowed.records("Customer") == {}  # the mock has no such source: an empty answer


def journal_entries(base_url: str) -> list[dict[str, Any]]:
    """Every request the mock recorded, as its admin API shows them."""
    answer = requests.get(f"{base_url}/_mock/journal", params={"limit": "100000"}, timeout=30)
    return list(answer.json()["entries"])


def names_requested(entry: dict[str, Any]) -> set[str]:
    """The source names one journal entry's request carried: path, query and JSON body."""
    names: set[str] = set()
    path = str(entry.get("path", ""))
    if path.startswith("/app/v1/"):
        names.add(urllib.parse.unquote(path.split("/")[3]))
    for key, value in urllib.parse.parse_qsl(str(entry.get("query_string") or "")):
        if key in ("source_name", "sources[][name]"):
            names.add(value)
        elif key == "sources":
            names.update(value.split(","))
    try:
        body = json.loads(entry.get("request_body") or "null")
    except ValueError:
        body = None
    if isinstance(body, dict):
        if isinstance(body.get("source_name"), str):
            names.add(body["source_name"])
        sources = body.get("sources")
        for item in sources if isinstance(sources, list) else [sources]:
            name = item.get("name") if isinstance(item, dict) else item
            if isinstance(name, str):
                names.add(name)
    return names


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_runs_against_a_server_given_by_url(served_mock, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    served_mock.reset()
    report, junit = tmp_path / "run.json", tmp_path / "run.xml"
    run = child_pytest(
        "tests/bdd/test_features.py",
        "tests/spec/test_protocol_spec.py",
        "--rhoconnect-url",
        served_mock.base_url,
        "--rhoconnect-login",
        "erin",
        "--rhoconnect-password",
        "pw",
        f"--cucumberjson={report}",
        f"--junitxml={junit}",
        "-rs",
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    reason = "@mock_control: needs a mock's admin API (--rhoconnect-admin-url)"
    assert reason in run.stdout
    outcomes = load_results(report)
    scenarios = load_scenarios()
    portable = [sc for sc in scenarios if "mock_control" not in sc.tags]
    assert len(portable) >= 40
    got = {sc.label: outcomes.get(sc.result_key) for sc in portable}
    assert got == {sc.label: "passed" for sc in portable}
    steered = [sc for sc in scenarios if "mock_control" in sc.tags]
    assert {sc.label: outcomes.get(sc.result_key) for sc in steered} == {
        sc.label: "skipped" for sc in steered
    }
    skipped = {
        case.get("name")
        for case in ElementTree.parse(junit).iter("testcase")
        if case.find("skipped") is not None
    }
    assert "test_records_in_pages_of_10_are_reported_page_by_page" in skipped
    # The feature report lists every feature and every skipped scenario, with the reason.
    features = json.loads(report.read_text())
    assert {f["uri"] for f in features} == {sc.feature_file for sc in scenarios}
    page = render(features)
    assert f'<span class="skipped">{len(steered)} skipped</span>' in page
    shown = html.escape(f"{reason}, not {served_mock.base_url}")
    assert f"<td class=skipped>{len(steered)}</td><td>{shown}</td>" in page
    # Nothing named a source the server was not said to have (a real server would keep it).
    entries = journal_entries(served_mock.base_url)
    assert len(entries) > 1000
    assert set().union(*(names_requested(e) for e in entries)) == {"Product"}


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_server_without_the_source_skips_the_scenarios_that_need_it(served_mock, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    served_mock.reset()
    report = tmp_path / "run.json"
    run = child_pytest(
        "tests/bdd/test_features.py",
        f"--rhoconnect-url={served_mock.base_url}",
        "--rhoconnect-sources=Order",
        f"--cucumberjson={report}",
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    entries = journal_entries(served_mock.base_url)
    assert entries and all(names_requested(e) == set() for e in entries)
    # Skipped by a step (the app's model): the steps before it passed, it carries the reason.
    elements = {e["name"]: e for f in json.loads(report.read_text()) for e in f["elements"]}
    steps = elements["The default page size is 2000"]["steps"]
    assert [s["result"]["status"] for s in steps] == ["skipped", "skipped"]
    assert steps[0]["result"]["error_message"].startswith("Skipped: source 'Product' is not among")
    steps = elements["Progress counts follow what the server holds"]["steps"]
    assert steps[0]["result"]["status"] == "skipped"
    page = render(json.loads(report.read_text()))
    assert "source &#x27;Product&#x27; is not among --rhoconnect-sources" in page


def wait_for_admin(admin_url: str, token: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"rhoconnect-mock serve ended: {process.communicate()}")
        try:
            answer = requests.get(admin_url + "/", headers={"Authorization": f"Bearer {token}"}, timeout=2)
            if answer.status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError("rhoconnect-mock serve did not answer within 60 s")


@pytest.fixture(scope="module")
def separate_mock() -> Iterator[tuple[str, str, str]]:
    """``rhoconnect-mock serve`` with the features' data, as its own process: URL, admin URL, token."""
    port, token = free_port(), "s3cret-admin"
    command = [str(Path(sys.executable).with_name("rhoconnect-mock")), "serve", "--port", str(port)]
    command += ["--config", str(MOCK_CONFIG_FILE), "--admin-token", token]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_admin(url + "/_mock", token, process)
        yield url, url + "/_mock", token
    finally:
        process.terminate()
        process.communicate(timeout=30)  # reaps it and closes the pipe


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_steers_a_separately_started_mock(separate_mock: tuple[str, str, str], tmp_path: Path) -> None:
    url, admin_url, token = separate_mock
    junit = tmp_path / "run.xml"
    run = child_pytest(
        "tests/bdd/test_features.py",
        "tests/spec/test_protocol_spec.py",
        "--rhoconnect-url",
        url,
        "--rhoconnect-admin-url",
        admin_url,
        "--rhoconnect-admin-token",
        token,
        f"--junitxml={junit}",
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    cases = list(ElementTree.parse(junit).iter("testcase"))
    assert [c.get("name") for c in cases if c.find("skipped") is not None] == []
    assert len(cases) >= len(load_scenarios()) + 2


def test_a_wrong_admin_token_or_url_is_named_in_one_line(separate_mock: tuple[str, str, str]) -> None:
    url, admin_url, token = separate_mock
    good = ServerSettings(url=url, admin_url=admin_url, admin_token=token)
    assert check_server(good) is None
    assert check_server(replace(good, admin_token=None)) == (
        f"the mock's admin API at {admin_url} refused the token: give --rhoconnect-admin-token"
    )
    assert check_server(replace(good, admin_url=url + "/admin")) == (
        f"{url}/admin is not a rhoconnect-mock admin API (GET answered 404)"
    )
    closed = f"http://127.0.0.1:{free_port()}"
    assert check_server(replace(good, admin_url=closed)) == (
        f"cannot reach the mock's admin API at {closed}: connection refused"
    )
    no_url = ServerSettings(admin_url=admin_url)
    assert check_server(no_url) == "--rhoconnect-admin-url needs --rhoconnect-url"


def test_a_wrong_url_is_named_in_one_line(served_mock) -> None:  # type: ignore[no-untyped-def]
    assert check_server(ServerSettings()) is None  # the embedded mock: nothing to check
    assert check_server(ServerSettings(url=served_mock.base_url + "/application")) is None
    wrong = served_mock.base_url + "/not-here"
    assert check_server(ServerSettings(url=wrong)) == (
        f"{wrong} does not answer like a RhoConnect server: POST /not-here/rc/v1/app/login gave 404"
    )
    assert check_server(ServerSettings(url="127.0.0.1:9292")) == (
        "--rhoconnect-url '127.0.0.1:9292' is not an http:// or https:// URL"
    )
    assert check_server(ServerSettings(url=served_mock.base_url, login="")) == (
        f"the RhoConnect server at {served_mock.base_url} refused the login '' "
        "(401 \"Unable to authenticate ''\"); give --rhoconnect-login and --rhoconnect-password"
    )


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_an_unreachable_or_wrong_url_ends_the_run_with_one_line(served_mock) -> None:  # type: ignore[no-untyped-def]
    closed = f"http://127.0.0.1:{free_port()}"
    run = child_pytest("tests/bdd", "tests/spec", "--rhoconnect-url", closed)
    assert (run.returncode, run.stdout.strip()) == (4, "")
    assert run.stderr.strip() == f"ERROR: cannot reach the RhoConnect server at {closed}: connection refused"
    wrong = served_mock.base_url + "/not-here"
    run = child_pytest("tests/bdd", "tests/spec", "--rhoconnect-url", wrong, "--rhoconnect-admin-url", wrong)
    assert (run.returncode, run.stdout.strip()) == (4, "")
    assert run.stderr.strip() == (
        f"ERROR: {wrong} does not answer like a RhoConnect server: POST /not-here/rc/v1/app/login gave 404"
    )
