"""Blob attributes in a page: the overwrite flag decides whether a local file survives the server's value."""

from __future__ import annotations

from pathlib import Path

import pytest
from rhoconnect_client.protocol import Page, parse_page
from rhoconnect_client.store import Store

LOCAL = "/app/files/id_1.png"


def page(cmd: str, token: str) -> Page:
    return parse_page(
        f'[{{"version":3}},{{"token":"{token}"}},{{"count":1}},{{"progress_count":0}},'
        f'{{"total_count":1}},{cmd}]'
    )


def image(store: Store, oid: str = "1") -> str | None:
    row = store.conn.execute(
        "SELECT value FROM object_values WHERE object=? AND attrib='image'", (oid,)
    ).fetchone()
    return None if row is None else str(row[0])


def loaded(tmp_path: Path, blob_attribs: str, value: str = LOCAL) -> tuple[Store, int]:
    """A store whose object 1 holds ``value`` in its blob attribute ``image``."""
    store = Store(tmp_path / "user.db")
    sid = store.register_source("Product", sync_priority=1, blob_attribs=blob_attribs).source_id
    store.apply_page(sid, page(f'{{"insert":{{"1":{{"name":"a","image":"{value}"}}}}}}', "1"))
    assert image(store) == value
    return store, sid


@pytest.mark.parametrize(("blob_attribs", "kept"), [("image,0", True), ("image,1", False), ("", False)])
def test_a_resent_blob_keeps_the_local_file_only_without_the_overwrite_flag(
    tmp_path: Path, blob_attribs: str, kept: bool
) -> None:
    store, sid = loaded(tmp_path, blob_attribs)
    store.apply_page(sid, page('{"insert":{"1":{"name":"b","image":"http://files/new.png"}}}', "2"))
    assert image(store) == (LOCAL if kept else "http://files/new.png")
    name = store.conn.execute("SELECT value FROM object_values WHERE object='1' AND attrib='name'").fetchone()
    assert name[0] == "b"  # the other attributes follow the server either way


def test_a_changed_blob_the_server_deletes_first_is_replaced_whatever_the_flag(tmp_path: Path) -> None:
    store, sid = loaded(tmp_path, "image,0")
    cmd = '{"delete":{"1":{"image":"http://files/old.png"}},"insert":{"1":{"image":"http://files/new.png"}}}'
    store.apply_page(sid, page(cmd, "2"))
    assert image(store) == "http://files/new.png"  # as Rhodes: the delete removed the local value


def test_a_url_not_yet_downloaded_takes_the_new_url(tmp_path: Path) -> None:
    store, sid = loaded(tmp_path, "image,0", value="http://files/old.png")
    store.apply_page(sid, page('{"insert":{"1":{"image":"http://files/new.png"}}}', "2"))
    assert image(store) == "http://files/new.png"
