"""The dashboard (``/_mock/ui/``) driven in a real headless Chromium with Playwright.

A client syncs and its pages appear in the live journal and the timeline; a rule added from the
form fails the next request; a record edited in the Data view reaches the client on its next sync.
Each view is photographed into ``artifacts/screenshots/``.

Skipped when Chromium or Playwright is missing on a developer machine; in CI (``CI=true``) a
missing browser is a failure, so the suite cannot go green without running.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from rhoconnect_client import SyncEngine
from rhoconnect_mock import MockServer

CHROMIUM = os.environ.get("RHOCONNECT_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
TOKEN = "dash-token"
WAIT_MS = 10_000
CONFIG = {"sources": {"Product": {"records": 30, "priority": 1}}, "admin_token": TOKEN}

pytestmark = pytest.mark.browser


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: CI must run the browser tests (scripts/install-browser.sh installs it)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).is_file():
        _unavailable(f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def mock() -> Iterator[MockServer]:
    with MockServer(CONFIG) as server:
        yield server


@pytest.fixture
def page(browser: Any, mock: MockServer) -> Iterator[Any]:
    """The dashboard, opened and unlocked with the admin token through its own prompt."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(WAIT_MS)
    tab.goto(mock.base_url + "/_mock/ui/")
    tab.locator("#token-dialog input[name=token]").fill(TOKEN)
    tab.locator("#token-dialog button").click()
    tab.locator("#ov-sources td", has_text="Product").wait_for()
    try:
        yield tab
    finally:
        context.close()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def engine_for(mock: MockServer, db: Path) -> SyncEngine:
    engine = SyncEngine(mock.base_url, db, url_family="rest")
    engine.add_model("Product", sync_priority=1)
    engine.set_pagesize(10)
    result = engine.login("alice", "secret").wait(30)
    assert result is not None and result["error_code"] == 0
    return engine


def synced(engine: SyncEngine) -> dict[str, dict[str, Any]]:
    result = engine.dosync(False).wait(30)
    assert result is not None and result["error_code"] == 0, result
    return {o.pop("object"): o for o in engine.model("Product").find_all()}


def open_view(page: Any, name: str) -> None:
    page.locator(f"nav a[data-view={name}]").click()
    page.locator(f"#view-{name}.active").wait_for()


def test_admin_token_is_asked_once_and_overview_shows_the_mock(page: Any, mock: MockServer) -> None:
    assert page.locator("#ov-sources tbody tr").count() == 1
    row = page.locator("#ov-sources tbody tr").first
    assert row.locator("td").all_inner_texts() == ["Product", "user", "30", "none", "1"]
    # Without the token the admin API still refuses; the page got in only through its prompt.
    assert requests.get(mock.admin_url + "overview", timeout=10).status_code == 401


def test_a_sync_appears_in_the_live_journal_and_the_timeline(
    page: Any, mock: MockServer, tmp_path: Path
) -> None:
    open_view(page, "journal")
    engine = engine_for(mock, tmp_path / "db.sqlite")
    try:
        assert len(synced(engine)) == 30
    finally:
        engine.close()
    client_id = mock.state.clients()[0]["id"]
    queries = mock.journal(operation="query")
    assert [e.status for e in queries] == [200] * len(queries) and len(queries) >= 4
    # The newest query is at the top of the journal, without a reload.
    newest = page.locator(f"#jr-table tbody tr[data-seq='{queries[-1].seq}']")
    newest.wait_for()
    assert "query" in newest.inner_text()
    page.locator("#jr-filters input[name=client_id]").fill(client_id)
    page.locator("#jr-filters select[name=operation]").select_option("query")
    assert page.locator("#jr-table tbody tr").count() == len(queries)
    page.locator(f"#jr-table tbody tr[data-seq='{queries[0].seq}']").click()
    detail = page.locator("#jr-detail")
    assert f"#{queries[0].seq} query" in detail.inner_text()
    assert '{"count":10}' in detail.locator("pre").nth(1).inner_text()
    shot(page, "journal")

    open_view(page, "overview")
    page.locator("#ov-clients td", has_text=client_id).wait_for()
    shot(page, "overview")

    open_view(page, "timeline")
    bars = page.locator("#tl-chart rect.page")
    bars.nth(len(queries) - 1).wait_for()
    assert bars.count() == len(queries)
    counts = [int(c) for c in page.locator("#tl-table tbody tr td:nth-child(5)").all_inner_texts() if c]
    assert sorted(counts, reverse=True)[:3] == [10, 10, 10] and sum(counts) == 30
    shot(page, "timeline")


def test_a_rule_from_the_form_fails_the_next_request(page: Any, mock: MockServer) -> None:
    open_view(page, "faults")
    form = page.locator("#ft-form")
    form.locator("select[name=m_operation]").select_option("query")
    form.locator("input[name=times]").fill("1")
    form.locator("select[name=action_type]").select_option("status")
    form.locator("input[name=p_status]").fill("503")
    form.locator("[name=p_body]").fill("busy")
    form.locator("button[type=submit]").click()
    row = page.locator("#ft-rules tbody tr[data-rule='rule-1']")
    row.wait_for()
    assert mock.faults()[0]["action"] == {"type": "status", "status": 503, "body": "busy"}

    http = requests.Session()
    assert http.post(mock.base_url + "/rc/v1/app/login", json={"login": "bob", "password": "x"}).ok
    client_id = http.post(mock.base_url + "/rc/v1/clients", json={}).json()["client"]["client_id"]
    query = mock.base_url + "/app/v1/Product"
    failed = http.get(query, headers={"X-RhoConnect-CLIENT-ID": client_id})
    assert (failed.status_code, failed.text) == (503, "busy")
    assert http.get(query, headers={"X-RhoConnect-CLIENT-ID": client_id}).status_code == 200
    row.locator("td", has_text="exhausted").wait_for()
    assert row.locator("td").nth(4).inner_text() == "1"  # fired once

    # One click: the next query answers 500; pausing the rule lets requests through again.
    page.locator("#ft-quick button", has_text="Next query answers 500").click()
    paused = page.locator("#ft-rules tbody tr[data-rule='rule-2']")
    paused.locator("button", has_text="Pause").click()
    paused.locator("td", has_text="paused").wait_for()
    assert http.get(query, headers={"X-RhoConnect-CLIENT-ID": client_id}).status_code == 200
    paused.locator("button", has_text="Resume").click()
    paused.locator("td", has_text="active").wait_for()
    assert http.get(query, headers={"X-RhoConnect-CLIENT-ID": client_id}).status_code == 500
    paused.locator("td", has_text="exhausted").wait_for()
    shot(page, "faults")

    # One click: the connection of the next page is reset; the journal marks what the client got.
    page.locator("#ft-quick button", has_text="Reset during the next page").click()
    page.locator("#ft-rules tbody tr[data-rule='rule-3']").wait_for()
    with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        http.get(query, headers={"X-RhoConnect-CLIENT-ID": client_id})

    open_view(page, "journal")
    page.locator("#jr-filters input[name=faulted]").check()
    page.locator("#jr-table tbody tr.faulted").nth(2).wait_for()
    assert page.locator("#jr-table tbody tr").count() == 3
    page.locator("#jr-filters input[name=faulted]").uncheck()
    assert mock.journal(operation="other") == []  # the page itself asked the mock for nothing else
    reset_row = page.locator("#jr-table tbody tr.faulted").first
    assert reset_row.locator("td").nth(10).inner_text() == "reset"  # the delivery column
    reset_row.click()
    detail = page.locator("#jr-detail")
    assert "rule-3 (reset)" in detail.inner_text()
    assert "The connection was reset after the headers" in detail.inner_text()
    shot(page, "journal-faults")

    # The timeline marks the reset page too: red, and "reset" in its delivery column.
    open_view(page, "timeline")
    newest_page = page.locator("#tl-table tbody tr").first
    newest_page.locator("td").nth(10).filter(has_text="reset").wait_for()  # the delivery column
    assert "faulted" in (newest_page.get_attribute("class") or "")
    assert page.locator("#tl-chart rect.page[fill='#c62828']").count() == 3
    open_view(page, "journal")

    # Journal cleared on the server: the page forgets the old requests too.
    requests.delete(mock.admin_url + "journal", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    page.locator("#jr-count", has_text="0 of 0 requests").wait_for()


def test_one_click_faults_add_valid_rules(page: Any, mock: MockServer) -> None:
    open_view(page, "faults")
    for label in ("Adapter error on the next create", "Expire the session"):
        page.locator("#ft-quick button", has_text=label).click()
    page.locator("#ft-rules tbody tr").nth(1).wait_for()
    assert [(r["match"], r["times"], r["action"]["type"]) for r in mock.faults()] == [
        ({"operation": "cud"}, 1, "adapter_error"),
        ({}, 1, "expire_session"),
    ]
    assert page.locator("#ft-error").inner_text() == ""
    # A rule the server refuses shows the server's message, naming the field.
    page.locator("#ft-form select[name=action_type]").select_option("delay")
    page.locator("#ft-form button[type=submit]").click()
    page.locator("#ft-error", has_text="action.seconds").wait_for()
    assert len(mock.faults()) == 2


def test_an_edited_record_reaches_the_client_on_its_next_sync(
    page: Any, mock: MockServer, tmp_path: Path
) -> None:
    engine = engine_for(mock, tmp_path / "db.sqlite")
    try:
        before = synced(engine)
        target = sorted(before)[0]
        open_view(page, "data")
        page.locator("#dt-pick input[name=user]").fill("alice")
        page.locator("#dt-pick input[name=q]").fill(target)
        page.locator("#dt-pick button[type=submit]").click()
        row = page.locator(f"#dt-table tbody tr[data-id='{target}']")
        row.wait_for()
        row.locator("button", has_text="Edit").click()
        row.locator("input[name=name]").fill("Edited in the dashboard")
        row.locator("button", has_text="Save").click()
        page.locator("#dt-table td", has_text="Edited in the dashboard").wait_for()

        page.locator("#dt-pick input[name=q]").fill("")
        add = page.locator("#dt-add")
        add.locator("input[name=id]").fill("added-1")
        add.locator("input[name=name]").fill("Added in the dashboard")
        add.locator("button[type=submit]").click()
        page.locator("#dt-count", has_text="of 31 records").wait_for()
        shot(page, "data")

        after = synced(engine)
        assert after[target]["name"] == "Edited in the dashboard"
        assert after["added-1"]["name"] == "Added in the dashboard"
        assert len(after) == 31
    finally:
        engine.close()
