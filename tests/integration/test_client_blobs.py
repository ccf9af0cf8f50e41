"""Blob attributes against a live mock: local files uploaded as multipart parts ``<attr>-<id>``,
server URLs downloaded into the files folder after a sync and after a bulk sync, also for attributes
the adapter names ``<attr>-rhoblob``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rhoconnect_client import SyncEngine
from rhoconnect_client.blobs import local_name
from rhoconnect_mock import MockServer

pytestmark = pytest.mark.integration
WAIT = 30
PICTURE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


@pytest.fixture
def server() -> Iterator[MockServer]:
    with MockServer({"bulk_wait_polls": 0, "sources": {"Product": {"records": 3}}}) as srv:
        yield srv


class Files:
    """A small file server standing for the blob store the server's URLs point at."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        files = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                files.requests.append(self.path)
                if not self.path.startswith("/files/"):
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(PICTURE)))
                self.end_headers()
                self.wfile.write(PICTURE)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def engine(server: MockServer, tmp_path: Path) -> Iterator[SyncEngine]:
    """A client of ``server`` with its database in ``tmp_path``, closed after the test."""
    with SyncEngine(server.url, tmp_path / "db.sqlite") as client:
        yield client


@pytest.fixture
def files() -> Iterator[Files]:
    f = Files()
    yield f
    f.close()


def test_local_blob_is_uploaded_as_a_multipart_part(
    engine: SyncEngine, server: MockServer, tmp_path: Path
) -> None:
    picture = tmp_path / "pen.png"
    picture.write_bytes(PICTURE)
    model = engine.add_model("Product", blob_attribs="image,0")
    engine.login("alice", "pw").wait(WAIT)
    temp = model.create({"name": "Pen", "image": str(picture)})["object"]
    assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
    assert server.journal(operation="cud")[-1].request_body is None  # not JSON: multipart
    (new_id,) = [o for o, a in server.state.records("Product", "alice").items() if a.get("name") == "Pen"]
    stored = server.state.blob("Product", "alice", new_id, "image")
    assert stored is not None and stored[1] == PICTURE
    assert stored[0] == f"image-{temp}"  # the part is named <attr>-<object id as sent>


def test_server_blob_urls_are_downloaded_after_a_sync(
    engine: SyncEngine, server: MockServer, files: Files, tmp_path: Path
) -> None:
    model = engine.add_model("Product", schema={"property": {"name": "string", "image": "blob"}})
    assert model.source.blob_attributes == {"image"}  # from the schema's blob type
    server.state.backend_insert(
        "Product", "alice", "99", {"name": "Pic", "image": files.url + "/files/p.png"}
    )
    server.state.backend_insert(
        "Product", "alice", "98", {"name": "Doc", "image": files.url + "/files/get?extension=pdf"}
    )
    engine.login("alice", "pw").wait(WAIT)
    assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
    client_id = engine.stores["user"].client_info().client_id
    assert sorted(files.requests) == sorted(
        [f"/files/p.png?client_id={client_id}", f"/files/get?extension=pdf&client_id={client_id}"]
    )
    folder = tmp_path / "db-files"
    pic = Path((model.find("99") or {})["image"])
    doc = Path((model.find("98") or {})["image"])
    assert pic.parent == folder and pic.suffix == ".png" and pic.read_bytes() == PICTURE
    assert doc.parent == folder and doc.suffix == ".pdf"
    assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
    assert len(files.requests) == 2  # local paths are not downloaded again


def test_a_failed_download_fails_the_source_and_keeps_the_url(
    engine: SyncEngine, server: MockServer, files: Files, tmp_path: Path
) -> None:
    model = engine.add_model("Product", blob_attribs="image,1")
    url = files.url + "/missing.png"
    server.state.backend_insert("Product", "alice", "97", {"name": "Gone", "image": url})
    engine.login("alice", "pw").wait(WAIT)
    outcome: list[dict[str, object]] = []
    engine.set_notification("Product", outcome.append)
    engine.dosync().wait(WAIT)
    assert outcome[-1]["status"] == "error" and outcome[-1]["error_code"] == 404
    assert (model.find("97") or {})["image"] == url  # tried again after the next sync
    assert not list((tmp_path / "db-files").glob("*"))  # no half-written file


def bulk_sync_downloading_blobs(engine: SyncEngine) -> None:
    """A bulk sync whose notifications show the blob downloads between the swap and the end."""
    events: list[dict[str, object]] = []
    engine.set_notification(-1, events.append)
    engine.bulksync_state = 0
    assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
    statuses = [e.get("bulk_status") for e in events if e.get("sync_type") == "bulk"]
    assert statuses.index("change_db") < statuses.index("blobs") < statuses.index("complete")


def test_blob_urls_are_downloaded_after_a_bulk_sync(server: MockServer, files: Files, tmp_path: Path) -> None:
    engine = SyncEngine(server.url, tmp_path / "db.sqlite", bulk_wait_seconds=0.05)
    try:
        model = engine.add_model("Product", blob_attribs="image,0")
        server.state.backend_insert(
            "Product", "alice", "99", {"name": "Pic", "image": files.url + "/files/b.jpg"}
        )
        engine.login("alice", "pw").wait(WAIT)
        bulk_sync_downloading_blobs(engine)
        path = Path((model.find("99") or {})["image"])
        assert path.read_bytes() == PICTURE and path.suffix == ".jpg"
    finally:
        engine.close()


def test_local_names_follow_rhodes() -> None:
    assert local_name("http://h/x/a.png").endswith(".png")
    assert local_name("http://h/x/a?extension=jpg").endswith(".jpg")
    assert local_name("http://h/x/blob").endswith(".bin")
    assert local_name("http://h/a.png").startswith("id_")


def test_blob_attribs_from_schema_types_as_the_server_derives_them(tmp_path: Path) -> None:
    with SyncEngine("http://127.0.0.1:1/application", tmp_path / "db.sqlite") as engine:
        schema = {"property": {"name": "string", "thumb": "blob,overwrite", "image": "blob"}}
        model = engine.add_model("Product", schema=schema)
        assert model.source.blob_attribs == "thumb,1,image,0"
        with pytest.raises(ValueError, match="property"):
            engine.add_model("Other", schema={"version": "1.0"})


@pytest.mark.parametrize("flag", ["0", "1"])
def test_a_blob_the_server_changes_is_downloaded_again_whatever_the_flag(
    engine: SyncEngine, server: MockServer, files: Files, tmp_path: Path, flag: str
) -> None:
    """The server's page deletes the old value before inserting the new one, so (as in Rhodes) the
    overwrite flag has no local file left to keep: it only matters for a value sent again without
    its delete (tests/unit/client/test_store_blobs.py)."""
    model = engine.add_model("Product", blob_attribs=f"image,{flag}")
    server.state.backend_insert(
        "Product", "alice", "99", {"name": "Pic", "image": files.url + "/files/a.png"}
    )
    engine.login("alice", "pw").wait(WAIT)
    assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
    first = (model.find("99") or {})["image"]
    assert "://" not in first and Path(first).read_bytes() == PICTURE
    server.state.backend_update("Product", "alice", "99", {"image": files.url + "/files/b.png"})
    assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
    after = (model.find("99") or {})["image"]
    assert any(r.startswith("/files/b.png") for r in files.requests)
    assert after != first and "://" not in after and Path(after).read_bytes() == PICTURE


def test_a_blob_still_waiting_for_its_download_takes_the_server_s_new_url(
    engine: SyncEngine, server: MockServer, files: Files, tmp_path: Path
) -> None:
    model = engine.add_model("Product", blob_attribs="image,0")
    server.state.backend_insert("Product", "alice", "97", {"name": "Gone", "image": files.url + "/missing"})
    engine.login("alice", "pw").wait(WAIT)
    engine.dosync().wait(WAIT)  # the download fails: the URL stays
    assert (model.find("97") or {})["image"] == files.url + "/missing"
    server.state.backend_update("Product", "alice", "97", {"image": files.url + "/files/c.png"})
    assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
    path = (model.find("97") or {})["image"]
    assert "://" not in path and Path(path).read_bytes() == PICTURE


def test_an_attribute_named_rhoblob_is_downloaded_as_a_blob_after_a_sync(
    engine: SyncEngine, server: MockServer, files: Files, tmp_path: Path
) -> None:
    """The adapter's ``image-rhoblob`` is the model's ``image``, downloaded without being declared."""
    model = engine.add_model("Product")
    server.state.backend_insert(
        "Product", "alice", "99", {"name": "Pic", "image-rhoblob": files.url + "/files/r.png"}
    )
    engine.login("alice", "pw").wait(WAIT)
    assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
    record = model.find("99") or {}
    assert "image-rhoblob" not in record
    path = Path(record["image"])
    assert path.parent == tmp_path / "db-files" and path.suffix == ".png" and path.read_bytes() == PICTURE
    assert model.source.blob_attribs == "image,0"
    server.state.backend_update("Product", "alice", "99", {"name": "Pic 2"})
    assert engine.dosync().wait(WAIT)["status"] == "complete"  # type: ignore[index]
    assert (model.find("99") or {}) == {**record, "name": "Pic 2"}
    assert len([r for r in files.requests if r.startswith("/files/r.png")]) == 1


def test_an_attribute_named_rhoblob_is_downloaded_after_a_bulk_sync(
    server: MockServer, files: Files, tmp_path: Path
) -> None:
    with SyncEngine(server.url, tmp_path / "db.sqlite", bulk_wait_seconds=0.05) as engine:
        model = engine.add_model("Product")
        server.state.backend_insert(
            "Product", "alice", "99", {"name": "Pic", "image-rhoblob": files.url + "/files/k.jpg"}
        )
        engine.login("alice", "pw").wait(WAIT)
        bulk_sync_downloading_blobs(engine)
        record = model.find("99") or {}
        assert "image-rhoblob" not in record
        path = Path(record["image"])
        assert path.read_bytes() == PICTURE and path.suffix == ".jpg"
        assert model.source.blob_flags["image"] != "0"  # the file's object count: overwrite
