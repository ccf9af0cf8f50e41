"""Attributes the server names ``<attr>-rhoblob``: stored as ``<attr>``, a blob attribute, in pages and
after a bulk swap."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from pathlib import Path

import pytest
from rhoconnect_client import rhoblob
from rhoconnect_client.protocol import Page, parse_page
from rhoconnect_client.store import Source, Store
from test_store_bulk import BULK_DDL

LOCAL = "/app/files/id_1.png"


def page(cmd: Mapping[str, object], token: str = "1") -> Page:
    header = [{"version": 3}, {"token": token}, {"count": 1}, {"progress_count": 0}, {"total_count": 1}]
    return parse_page(json.dumps([*header, cmd]))


def rows(store: Store, oid: str | None = None) -> dict[str, str]:
    sql = "SELECT attrib, value FROM object_values" + (" WHERE object=?" if oid else "")
    return dict(store.conn.execute(sql, (oid,) if oid else ()).fetchall())


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "user.db")


def test_a_suffixed_name_is_stored_without_it_even_when_sqlite_could_read_the_page_text(store: Store) -> None:
    sid = store.register_source("Product", sync_priority=1).source_id
    p = page({"insert": {"1": {"name": "Pen", "image-rhoblob": "http://files/p.png"}}})
    assert p.raw_insert is not None  # the text path would be taken: it would store the suffixed name
    store.apply_page(sid, p)
    assert rows(store) == {"name": "Pen", "image": "http://files/p.png"}
    assert store.source(sid).blob_attribs == "image,0"  # type: ignore[union-attr]


def test_a_mixed_page_renames_only_the_suffixed_names(store: Store) -> None:
    sid = store.register_source("Product", sync_priority=1, blob_attribs="thumb,1").source_id
    cmd = {
        "insert": {
            "1": {"name": "Pen", "image-rhoblob": "http://files/1.png", "thumb": "http://files/t1.png"},
            "2": {"name": "Ink", "brand": "Acme"},
            "3": {"image-rhoblob": "http://files/3.png", "image": "plain"},  # the later one wins
        }
    }
    store.apply_page(sid, page(cmd))
    assert rows(store, "1") == {"name": "Pen", "image": "http://files/1.png", "thumb": "http://files/t1.png"}
    assert rows(store, "2") == {"name": "Ink", "brand": "Acme"}
    assert rows(store, "3") == {"image": "plain"}
    source = store.source(sid)
    assert source is not None and source.blob_flags == {"thumb": "1", "image": "0"}


def test_the_bare_suffix_names_no_attribute_and_is_kept_as_sent(store: Store) -> None:
    sid = store.register_source("Product", sync_priority=1).source_id
    store.apply_page(sid, page({"insert": {"1": {"-rhoblob": "http://files/x.png", "name": "a"}}}))
    assert rows(store) == {"-rhoblob": "http://files/x.png", "name": "a"}
    assert store.source(sid).blob_attribs is None  # type: ignore[union-attr]


def test_a_delete_with_the_suffix_deletes_the_attribute(store: Store) -> None:
    sid = store.register_source("Product", sync_priority=1).source_id
    store.apply_page(sid, page({"insert": {"1": {"name": "a", "image-rhoblob": "http://files/a.png"}}}))
    store.apply_page(sid, page({"delete": {"1": {"image-rhoblob": "http://files/a.png"}}}, token="2"))
    assert rows(store) == {"name": "a"}


def test_an_undeclared_blob_keeps_the_local_file_and_a_declared_one_keeps_its_flag(store: Store) -> None:
    """Rhodes has no overwrite flag for an attribute it only knows from the suffix: a local file stays."""
    kept = store.register_source("Kept", sync_priority=1).source_id
    over = store.register_source("Over", sync_priority=2, blob_attribs="image,1").source_id
    for sid in (kept, over):
        store.apply_page(sid, page({"insert": {"1": {"image": LOCAL}}}))
        store.apply_page(sid, page({"insert": {"1": {"image-rhoblob": "http://files/new.png"}}}, token="2"))
    assert store.conn.execute(
        "SELECT source_id, value FROM object_values WHERE attrib='image' ORDER BY source_id"
    ).fetchall() == [(kept, LOCAL), (over, "http://files/new.png")]
    assert store.source(over).blob_attribs == "image,1"  # type: ignore[union-attr]


def test_a_pending_create_the_server_writes_with_the_suffix_is_an_oo_conflict(store: Store) -> None:
    sid = store.register_source("Product", sync_priority=1).source_id
    store.conn.execute(
        "INSERT INTO changed_values (source_id, attrib, object, value, update_type, sent) "
        "VALUES (?, 'image', '1', ?, 'create', 2)",
        (sid, LOCAL),
    )
    store.apply_page(sid, page({"insert": {"1": {"image-rhoblob": "http://files/s.png"}}}))
    assert store.conn.execute("SELECT sent FROM changed_values WHERE attrib='image'").fetchone() == (4,)


@pytest.mark.parametrize(
    ("flag", "kept"), [("0", True), ("1", False), ("25", False), ("x", True), ("", True)]
)
def test_overwrite_flags_read_as_numbers(flag: str, kept: bool) -> None:
    source = Source(1, "P", 0, 1, "user", "incremental", blob_attribs=f"image,{flag}")
    assert ("image" in source.blobs_kept_locally) is kept


def test_source_attribs_pairs_split_as_rhodes_reads_them() -> None:
    split = rhoblob.split_source_attribs("brand,3,image-rhoblob,2,name,3")
    assert split == ("brand,3,name,3", {"image": "2"})
    assert rhoblob.split_source_attribs("-rhoblob,1,a-rhoblob") == ("-rhoblob,1", {})


def bulk_file(path: Path) -> Path:
    """A bulk file whose Product records carry ``image-rhoblob``, as RhoConnect writes an adapter's
    names: rows and ``source_attribs`` counts with the suffix, no ``blob_attribs``."""
    conn = sqlite3.connect(path)
    conn.executescript(BULK_DDL)
    conn.execute(
        "INSERT INTO sources (source_id, name, sync_priority, partition, sync_type, source_attribs, "
        "blob_attribs) VALUES (1, 'Product', 3, 'user', 'incremental', 'image-rhoblob,2,name,3', '')"
    )
    conn.execute(
        "INSERT INTO sources (source_id, name, sync_priority, partition, sync_type, source_attribs, "
        "blob_attribs) VALUES (2, 'Note', 3, 'user', 'incremental', 'thumb-rhoblob,1,text,1', '')"
    )
    conn.executemany(
        "INSERT INTO object_values VALUES (?, ?, ?, ?)",
        [
            (1, "name", "1", "Pen"),
            (1, "image-rhoblob", "1", "http://files/1.png"),
            (1, "name", "2", "Ink"),
            (1, "image-rhoblob", "2", "http://files/2.png"),
            (1, "image", "2", "stale"),  # both names for one object: the suffixed row wins
            (1, "name", "3", "Cap"),
            (2, "text", "n1", "hello"),
            (2, "thumb-rhoblob", "n1", "http://files/n1.png"),
        ],
    )
    conn.commit()
    conn.close()
    return path


def test_a_bulk_swap_turns_suffixed_attributes_into_blob_attributes(store: Store, tmp_path: Path) -> None:
    store.register_source("Product", sync_priority=1, blob_attribs="thumb,0")
    store.register_source("Note", sync_priority=2, sync_type="none")  # local-only: its data stays
    store.install_bulk_database(bulk_file(tmp_path / "bulk.data"))
    product, note = store.source("Product"), store.source("Note")
    assert product is not None and note is not None
    assert product.blob_flags == {"thumb": "0", "image": "2"}  # the file's count, as Rhodes takes it
    assert product.blobs_kept_locally == {"thumb"}  # a count is a non-zero flag: overwrite
    assert product.source_attribs == "name,3"
    assert not note.blob_attributes
    values = store.conn.execute(
        "SELECT object, attrib, value FROM object_values WHERE source_id=? ORDER BY object, attrib",
        (product.source_id,),
    ).fetchall()
    assert values == [
        ("1", "image", "http://files/1.png"),
        ("1", "name", "Pen"),
        ("2", "image", "http://files/2.png"),
        ("2", "name", "Ink"),
        ("3", "name", "Cap"),
    ]
