"""Bulk sync through HTTP against a live mock: bulk_data answers, the files, errors, confinement."""

from __future__ import annotations

import gzip
import io
import os
import sqlite3
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from rhoconnect_mock import MockServer

FIXED_SCHEMA = {
    "version": "2.0",
    "property": {"name": "string", "price": "float", "qty": "integer"},
    "index": {"by_name": "name"},
    "unique_index": {"by_qty": "qty"},
}

JSON = "application/json"


def _config(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "bulk_dir": str(tmp_path / "bulk"),
        "sources": {
            "Product": {"partition": "user", "priority": 1, "records": 25},
            "Broken": {"partition": "user", "priority": 2, "records": 3, "attributes": ["name", "qty"]},
            "Fixed": {
                "partition": "user",
                "priority": 3,
                "records": 4,
                "attributes": ["name", "price", "qty"],
                "schema": FIXED_SCHEMA,
                "metadata": {"title": "Fixed items"},
            },
            "Catalog": {"partition": "app", "priority": 1, "records": 7},
        },
    }
    cfg.update(extra)
    return cfg


@pytest.fixture
def server(tmp_path: Path) -> Iterator[MockServer]:
    with MockServer(_config(tmp_path)) as srv:
        yield srv


class Rho:
    """A logged-in protocol session with one client id."""

    def __init__(self, srv: MockServer, login: str = "carol") -> None:
        self.srv = srv
        self.http = requests.Session()
        r = self.http.post(
            srv.base_url + "/rc/v1/app/login", json={"login": login, "password": "x"}, timeout=10
        )
        assert r.status_code == 200
        r = self.http.post(srv.base_url + "/rc/v1/clients", json={}, timeout=10)
        self.client_id = r.json()["client"]["client_id"]

    def bulk(self, sources: list[str] | None = None, partition: str = "user") -> requests.Response:
        body: dict[str, Any] = {"client_id": self.client_id, "partition": partition}
        if sources is not None:
            body["sources"] = sources
        return self.http.post(self.srv.base_url + "/rc/v1/app/bulk_data", json=body, timeout=30)

    def classic_bulk(self, **params: str) -> requests.Response:
        return self.http.get(
            self.srv.url + "/bulk_data", params={"client_id": self.client_id, **params}, timeout=30
        )

    def bulk_until_ready(self, sources: list[str] | None = None, partition: str = "user") -> str:
        for _ in range(10):
            answer = self.bulk(sources, partition).json()
            if answer["result"] != "wait":
                assert answer["result"] == "url"
                return str(answer["url"])
        raise AssertionError("bulk_data never stopped answering wait")

    def query(self, source: str) -> list[Any]:
        r = self.http.get(
            self.srv.base_url + f"/app/v1/{source}", params={"client_id": self.client_id}, timeout=10
        )
        assert r.status_code == 200
        page: list[Any] = r.json()
        return page


def _download(srv: MockServer, url: str) -> requests.Response:
    return requests.get(srv.base_url + url, timeout=10)


def _open_db(tmp_path: Path, content: bytes) -> sqlite3.Connection:
    path = tmp_path / f"downloaded-{len(list(tmp_path.iterdir()))}.data"
    path.write_bytes(content)
    return sqlite3.connect(path)


def test_rest_bulk_data_waits_once_then_gives_the_url(server: MockServer) -> None:
    rho = Rho(server)
    first = rho.bulk(["Product"])
    assert (first.status_code, first.headers["Content-Type"], first.text) == (200, JSON, '{"result":"wait"}')
    assert "Warning" not in first.headers
    second = rho.bulk(["Product"])
    assert second.headers["Content-Type"] == JSON
    url = second.json()["url"]
    assert second.text == '{"result":"url","url":"' + url + '"}'
    assert url.startswith("/data/application/carol/carol_") and url.endswith(".data")
    assert rho.bulk(["Product"]).json() == {"result": "url", "url": url}  # reused while nothing changed


def test_classic_bulk_data_has_the_warning_and_takes_a_comma_list(server: MockServer) -> None:
    rho = Rho(server)
    r = rho.classic_bulk(partition="user", sources="Product,Fixed")
    assert r.status_code == 200 and r.json() == {"result": "wait"}
    assert (
        r.headers["Warning"]
        == "Use of the GET /application/bulk_data is deprecated. Use Rhoconnect API v1 instead."
    )
    url = rho.classic_bulk(partition="user", sources="Product,Fixed").json()["url"]
    with _open_db(Path(server.state.config.bulk_dir or "."), _download(server, url).content) as db:
        rows = db.execute("SELECT name, sync_type FROM sources ORDER BY source_id").fetchall()
    assert rows == [("Product", "incremental"), ("Broken", "none"), ("Fixed", "incremental")]


def test_wait_polls_are_configurable(tmp_path: Path) -> None:
    with MockServer(_config(tmp_path, bulk_wait_polls=0)) as srv:
        assert Rho(srv).bulk(["Product"]).json()["result"] == "url"
    with MockServer(_config(tmp_path, bulk_wait_polls=3)) as srv:
        rho = Rho(srv)
        assert [rho.bulk(["Product"]).json()["result"] for _ in range(4)] == ["wait"] * 3 + ["url"]


def test_login_and_client_are_required(server: MockServer) -> None:
    anonymous = requests.post(
        server.base_url + "/rc/v1/app/bulk_data", json={"partition": "user"}, timeout=10
    )
    assert (anonymous.status_code, anonymous.headers["Content-Type"], anonymous.text) == (
        401,
        "text/plain",
        "Not authenticated",
    )
    rho = Rho(server)
    for client_id in (None, "ffffffffffffffffffffffffffffffff"):
        body = {"partition": "user"} if client_id is None else {"partition": "user", "client_id": client_id}
        r = rho.http.post(server.base_url + "/rc/v1/app/bulk_data", json=body, timeout=10)
        assert (r.status_code, r.headers["Content-Type"], r.text) == (
            500,
            "text/html;charset=utf-8",
            "Unknown client",
        )
    classic = requests.get(server.url + "/bulk_data", params={"partition": "user"}, timeout=10)
    assert classic.status_code == 401
    broken = rho.http.post(
        server.base_url + "/rc/v1/app/bulk_data", data="{oops", headers={"Content-Type": JSON}, timeout=10
    )
    assert (broken.status_code, broken.text) == (500, "Server error while processing client data")


def test_client_id_header_works_like_the_parameter(server: MockServer) -> None:
    rho = Rho(server)
    r = rho.http.post(
        server.base_url + "/rc/v1/app/bulk_data",
        json={"partition": "user", "sources": ["Product"]},
        headers={"X-RhoConnect-CLIENT-ID": rho.client_id},
        timeout=10,
    )
    assert r.json() == {"result": "wait"}


def test_nop_when_the_partition_has_no_sources_or_none_are_asked(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    del cfg["sources"]["Catalog"]
    with MockServer(cfg) as srv:
        rho = Rho(srv)
        assert rho.bulk(partition="app").text == '{"result":"nop"}'
        assert rho.bulk([], partition="user").json() == {"result": "nop"}


def test_app_partition_file(server: MockServer, tmp_path: Path) -> None:
    rho = Rho(server)
    url = rho.bulk_until_ready(partition="app")
    assert url.startswith("/data/application/application_") and url.endswith(".data")
    other = Rho(server, login="dave")
    assert other.bulk_until_ready(partition="app") == url  # one file for every user
    with _open_db(tmp_path, _download(server, url).content) as db:
        assert db.execute("SELECT source_id, name, partition FROM sources").fetchall() == [
            (1, "Catalog", "app")
        ]
        assert db.execute("SELECT count(DISTINCT object) FROM object_values").fetchone() == (7,)


def test_downloads_and_their_contents(server: MockServer, tmp_path: Path) -> None:
    rho = Rho(server)
    url = rho.bulk_until_ready(["Product", "Fixed"])
    data = _download(server, url)
    assert data.status_code == 200
    assert data.headers["Content-Type"] == "application/octet-stream"
    assert "Last-Modified" in data.headers and "Content-Disposition" not in data.headers
    assert data.content.startswith(b"SQLite format 3\x00")
    rzip = _download(server, url + ".rzip")
    assert (rzip.status_code, rzip.headers["Content-Type"]) == (200, "text/plain")
    with zipfile.ZipFile(io.BytesIO(rzip.content)) as archive:
        (entry,) = archive.infolist()
        assert entry.filename == url.rsplit("/", 1)[1]
        assert entry.compress_type == zipfile.ZIP_DEFLATED
        assert archive.read(entry) == data.content
    gz = _download(server, url + ".gzip")
    assert gz.status_code == 200 and gzip.decompress(gz.content) == data.content

    expected = server.state.records("Product", "carol")
    with _open_db(tmp_path, data.content) as db:
        stored: dict[str, dict[str, str]] = {}
        for obj, attrib, value in db.execute(
            "SELECT object, attrib, value FROM object_values WHERE source_id=1"
        ):
            stored.setdefault(obj, {})[attrib] = value
        sources = db.execute(
            "SELECT source_id, name, sync_type, last_inserted_size, source_attribs, metadata,"
            " schema IS NOT NULL FROM sources ORDER BY source_id"
        ).fetchall()
        fixed = {row[0]: row[1:] for row in db.execute("SELECT object, name, price, qty FROM Fixed")}
    assert stored == {oid: dict(attrs) for oid, attrs in expected.items()}
    assert sources[0][:4] == (1, "Product", "incremental", 25)
    assert sources[0][4] == "brand,25,name,25,price,25,quantity,25,sku,25"
    assert sources[1] == (2, "Broken", "none", 0, "", None, 0)
    assert sources[2][:5] == (3, "Fixed", "incremental", 4, "")
    assert sources[2][5] == server.state.sources["Fixed"].metadata_json() and sources[2][6] == 1
    fixed_records = server.state.records("Fixed", "carol")
    assert fixed == {oid: (a.get("name"), a.get("price"), a.get("qty")) for oid, a in fixed_records.items()}


def test_after_the_bulk_url_a_query_sends_only_later_changes(server: MockServer) -> None:
    rho = Rho(server)
    rho.bulk_until_ready(["Product"])
    assert rho.query("Product")[5] == {}
    server.state.backend_update("Product", "carol", "3", {"price": "1.00"})
    page = rho.query("Product")
    assert page[5]["insert"] == {"3": {"price": "1.00"}}


def test_links_of_a_pending_page_outlive_a_bulk_download(server: MockServer) -> None:
    # The file holds the created object under its server id; the client still needs the link
    # to rename its own copy, even if it never saw the page that carried it.
    rho = Rho(server)
    rho.bulk_until_ready(["Product"])
    r = rho.http.post(
        server.base_url + "/app/v1/Product",
        json={"client_id": rho.client_id, "create": {"temp-9": {"name": "Made here"}}},
        timeout=10,
    )
    assert r.status_code == 200
    lost = rho.query("Product")[5]["links"]
    rho.bulk_until_ready(["Product"])
    page = rho.query("Product")
    assert page[5] == {"links": lost} and page[1]["token"]


def test_a_schema_change_rebuilds_the_file(server: MockServer, tmp_path: Path) -> None:
    # RhoConnect expires bulk data on a schema change. Serving the old file would leave the
    # client with the old schema while the server counts the new one as sent (no schema-changed).
    rho = Rho(server)
    old_url = rho.bulk_until_ready(["Fixed"])
    server.state.bump_schema_version("Fixed", "3.0")
    url = rho.bulk_until_ready(["Fixed"])
    assert url != old_url
    with _open_db(tmp_path, _download(server, url).content) as db:
        (schema,) = db.execute("SELECT schema FROM sources WHERE name = 'Fixed'").fetchone()
    assert '"version":"3.0"' in schema
    # The client has the new schema and the data: no schema-changed, no inserts (the metadata
    # comes once, as on RhoConnect, whose bulk hand-over does not mark it sent).
    assert rho.query("Fixed")[5] == {"metadata": server.state.sources["Fixed"].metadata_json()}


def test_hand_over_records_the_schema_the_file_has(server: MockServer) -> None:
    # A schema change racing with the hand-over (after the freshness check): the client got the
    # file's schema, so its next query must say schema-changed.
    from rhoconnect_mock.bulk_engine import hand_over

    rho = Rho(server)
    rho.bulk_until_ready(["Fixed"])
    job = server.state.store.bulk_job(("user", "carol"))
    assert job is not None
    server.state.bump_schema_version("Fixed", "9.0")
    hand_over(server.state.store, server.state.client(rho.client_id, "carol"), job)
    assert rho.query("Fixed")[5] == {"schema-changed": "true"}


def test_changed_data_rebuilds_the_file_and_deletes_the_old_one(server: MockServer, tmp_path: Path) -> None:
    rho = Rho(server)
    old_url = rho.bulk_until_ready(["Product"])
    server.state.backend_insert("Product", "carol", "new-1", {"name": "Fresh"})
    assert rho.bulk(["Product"]).json() == {"result": "wait"}
    new_url = rho.bulk_until_ready(["Product"])
    assert new_url != old_url
    assert _download(server, old_url).status_code == 404
    with _open_db(tmp_path, _download(server, new_url).content) as db:
        assert db.execute("SELECT value FROM object_values WHERE object='new-1'").fetchall() == [("Fresh",)]
    # Asking for other sources also builds a new file.
    assert rho.bulk(["Product", "Fixed"]).json() == {"result": "wait"}


def test_stored_source_error_gives_an_empty_url_once_then_wait(server: MockServer) -> None:
    rho = Rho(server)
    server.state.fail_adapter("query", "Broken", "query exploded")
    page = rho.query("Broken")
    assert page[5]["source-error"] == {"query-error": {"message": "query exploded"}}
    answers = [rho.bulk(["Broken"]).text for _ in range(3)]
    assert answers == ['{"result":"wait"}', '{"result":"url","url":""}', '{"result":"wait"}']
    assert list(Path(server.state.config.bulk_dir or ".").rglob("*.data*")) != []  # the new job's files
    # Only the requested sources are checked.
    assert rho.bulk(["Product"]).json() == {"result": "wait"}
    assert rho.bulk(["Product"]).json()["url"].endswith(".data")
    server.state.clear_adapter_failures()
    rho.query("Broken")  # a working query clears the stored error
    assert rho.bulk_until_ready(["Broken"]).endswith(".data")


def test_adapter_failing_while_the_file_is_built_empties_the_url(server: MockServer) -> None:
    rho = Rho(server)
    server.state.fail_adapter("login", "Product", "login refused", times=1)
    assert rho.bulk(["Product"]).json() == {"result": "wait"}
    assert rho.bulk(["Product"]).json() == {"result": "url", "url": ""}
    assert rho.bulk_until_ready(["Product"]).endswith(".data")  # the failure was used up


def test_reset_deletes_the_bulk_files(server: MockServer) -> None:
    rho = Rho(server)
    url = rho.bulk_until_ready(["Product"])
    assert _download(server, url).status_code == 200
    reset = requests.post(server.base_url + "/_mock/reset", json={}, timeout=10)  # the admin API
    assert reset.status_code == 200
    assert _download(server, url).status_code == 404
    assert list(Path(server.state.config.bulk_dir or ".").rglob("*.data*")) == []


def test_every_reset_path_deletes_the_bulk_files_through_the_state_hook(server: MockServer) -> None:
    # The bulk registry listens to MockState's reset hook: no method is wrapped on the instance.
    assert "reset" not in vars(server.state)
    for do_reset in (server.reset, server.state.reset):
        url = Rho(server).bulk_until_ready(["Product"])
        assert _download(server, url).status_code == 200
        do_reset()
        assert _download(server, url).status_code == 404
        assert list(Path(server.state.config.bulk_dir or ".").rglob("*.data*")) == []


def test_reset_listeners_run_after_the_state_is_fresh(server: MockServer) -> None:
    seen: list[int] = []
    server.state.backend_delete("Product", "carol", "1")
    server.state.add_reset_listener(lambda: seen.append(len(server.state.records("Product", "carol"))))
    server.state.reset()
    assert seen == [25]


def test_default_bulk_folder_is_temporary_and_private(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    del cfg["bulk_dir"]
    with MockServer(cfg) as srv:
        url = Rho(srv).bulk_until_ready(["Product"])
        assert _download(srv, url).status_code == 200
        assert not (tmp_path / "bulk").exists()


@pytest.fixture(scope="module")
def trap_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockServer]:
    """A server whose bulk folder holds traps: symlinks out of it and a non-bulk file."""
    tmp_path = tmp_path_factory.mktemp("trap")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.data").write_bytes(b"SECRET")
    with MockServer(_config(tmp_path)) as srv:
        app_dir = Path(srv.state.config.bulk_dir or ".") / "application"
        (app_dir / "carol").mkdir(parents=True)
        (app_dir / "plain.txt").write_text("not a bulk file")
        os.symlink(outside / "secret.data", app_dir / "outside.data")
        os.symlink(outside, app_dir / "linkdir")
        (app_dir / "inside.data").write_bytes(b"INSIDE")
        yield srv


def test_a_file_inside_the_folder_is_served(trap_server: MockServer) -> None:
    r = requests.get(trap_server.base_url + "/data/application/inside.data", timeout=10)
    assert (r.status_code, r.content) == (200, b"INSIDE")


@pytest.mark.parametrize(
    "path",
    [
        "/data/../../etc/passwd",
        "/data/%2e%2e/%2e%2e/etc/passwd",
        "/data/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/data/application/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/data//etc/passwd",
        "/data/%2Fetc%2Fpasswd",
        "/data/application/..%5C..%5Cetc%5Cpasswd",
        "/data/application/outside.data",
        "/data/application/linkdir/secret.data",
        "/data/application/plain.txt",
        "/data/application/carol",
        "/data/application/nul%00.data",
    ],
)
def test_downloads_are_confined_to_the_bulk_folder(trap_server: MockServer, path: str) -> None:
    r = requests.get(trap_server.base_url + path, timeout=10)
    assert r.status_code == 404
    assert b"SECRET" not in r.content and b"root:" not in r.content


@pytest.mark.parametrize("login", ["we ird", "a/b", "..", "ünï", "100%"])
def test_odd_user_names_get_one_safe_folder_and_a_working_url(server: MockServer, login: str) -> None:
    rho = Rho(server, login=login)
    url = rho.bulk_until_ready(["Product"])
    assert url.startswith("/data/application/") and url.count("/") == 4
    assert " " not in url
    r = _download(server, url)
    assert r.status_code == 200 and r.content.startswith(b"SQLite format 3\x00")
    folder = Path(server.state.config.bulk_dir or ".").resolve()
    for path in folder.rglob("*.data"):
        assert path.resolve().is_relative_to(folder / "application")


def test_concurrent_requests_share_one_build(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with MockServer(_config(tmp_path, bulk_wait_polls=0)) as srv:
        clients = [Rho(srv) for _ in range(6)]  # six devices of the same user
        with ThreadPoolExecutor(len(clients)) as pool:
            urls = list(pool.map(lambda rho: rho.bulk(["Product"]).json()["url"], clients))
        assert len(set(urls)) == 1 and urls[0].endswith(".data")
        assert len(list(Path(srv.state.config.bulk_dir or ".").rglob("*.data"))) == 1
