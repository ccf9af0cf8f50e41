"""The bulk file builder against the real server's bulk files (recorded listings errors-07 and errors-85)."""

from __future__ import annotations

import gzip
import re
import sqlite3
import zipfile
from pathlib import Path

import pytest
from rhoconnect_mock.bulkfile import BulkSource, build_bulk_files, rzip_entry_name, source_attribs
from spec.transcripts import file_listing

FIXED_SCHEMA = {
    "version": "2.0",
    "property": {"name": "string", "price": "float", "qty": "integer"},
    "index": {"by_name": "name", "by_name_price": "name,price"},
    "unique_index": {"by_qty": "qty"},
}


def _products(n: int) -> dict[str, dict[str, str]]:
    return {
        str(i): {
            "name": f"Product {i}",
            "brand": f"Brand {i % 5}",
            "price": f"{i * 1.25:.2f}",
            "quantity": str(i),
            "sku": f"SKU-{i:06d}",
        }
        for i in range(1, n + 1)
    }


def _recorded_schema(listing: str, data_name: str) -> str:
    """The `.schema` output recorded for a bulk file, as one string per statement."""
    text = file_listing("errors", listing)
    start = text.index(f"$ sqlite3 {data_name} .schema\n") + len(f"$ sqlite3 {data_name} .schema\n")
    end = text.index("\n\n", start)
    return text[start:end]


def _dumped_schema(path: Path) -> str:
    """What `sqlite3 FILE .schema` prints: each sqlite_master statement, in order, plus ';'."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid").fetchall()
    return "\n".join(sql + ";" for (sql,) in rows)


def _fixed_records() -> dict[str, dict[str, str]]:
    return {f"f{i}": {"name": f"Fixed {i}", "price": f"{2.5 * i:.2f}", "qty": str(i)} for i in (4, 1, 3, 2)}


def test_schema_of_a_product_file_is_byte_identical_to_the_recorded_one(tmp_path: Path) -> None:
    files = build_bulk_files(
        tmp_path / "carol_1795664188.data",
        [BulkSource("Product", "user", 3, _products(25), refresh_time=1795664488)],
        built_at=1795664188,
    )
    assert _dumped_schema(files.data) == _recorded_schema("errors-07", "carol_1795664188.data")


def test_schema_with_a_fixed_schema_source_matches_step_85(tmp_path: Path) -> None:
    files = build_bulk_files(
        tmp_path / "frank_1795664332.data",
        [
            BulkSource("Product", "user", 3, _products(25)),
            BulkSource("Broken", "user", 3, selected=False),
            BulkSource("Fixed", "user", 3, _fixed_records(), schema=FIXED_SCHEMA),
        ],
    )
    assert _dumped_schema(files.data) == _recorded_schema("errors-85", "frank_1795664332.data")


def test_sources_rows_match_the_recorded_quoting(tmp_path: Path) -> None:
    metadata = '{"title":"Fixed items","schema_version":"2.0"}'
    files = build_bulk_files(
        tmp_path / "frank_1.data",
        [
            BulkSource("Product", "user", 3, _products(25), refresh_time=1795664632),
            BulkSource("Broken", "user", 3, {"1": {"name": "x"}}, selected=False, refresh_time=1795664332),
            BulkSource(
                "Fixed", "user", 3, _fixed_records(), schema=FIXED_SCHEMA, metadata=metadata, refresh_time=7
            ),
        ],
    )
    with sqlite3.connect(files.data) as conn:
        rows = conn.execute(
            "SELECT source_id, quote(name), quote(token), quote(sync_priority), quote(partition),"
            " quote(sync_type), quote(metadata), quote(last_updated), quote(last_inserted_size),"
            " quote(backend_refresh_time), quote(source_attribs), quote(schema), quote(schema_version),"
            " quote(associations), quote(blob_attribs) FROM sources ORDER BY source_id"
        ).fetchall()
        fixed_rows = conn.execute("SELECT * FROM Fixed").fetchall()
        per_source = conn.execute("SELECT source_id, count(*) FROM object_values GROUP BY 1").fetchall()
        typed = conn.execute(
            "SELECT typeof(source_id), typeof(value), count(*) FROM object_values GROUP BY 1, 2"
        ).fetchall()
        pragmas = [conn.execute(f"PRAGMA {name}").fetchone() for name in ("page_size", "journal_mode")]
    assert rows[0] == (
        1, "'Product'", "NULL", "3", "'user'", "'incremental'", "NULL", "0", "25", "1795664632",
        "'brand,25,name,25,price,25,quantity,25,sku,25'", "NULL", "NULL", "NULL", "''",
    )  # fmt: skip
    # Not requested: listed with sync_type none and no data even though records were given.
    assert rows[1][1:10] == ("'Broken'", "NULL", "3", "'user'", "'none'", "NULL", "0", "0", "1795664332")
    assert rows[1][10] == "''"
    schema_json = (
        '{"version":"2.0","property":{"name":"string","price":"float","qty":"integer"},'
        '"index":{"by_name":"name","by_name_price":"name,price"},"unique_index":{"by_qty":"qty"}}'
    )
    assert rows[2][5:12] == ("'incremental'", f"'{metadata}'", "0", "4", "7", "''", f"'{schema_json}'")
    assert sorted(fixed_rows) == [
        ("f1", "Fixed 1", "2.50", "1"),
        ("f2", "Fixed 2", "5.00", "2"),
        ("f3", "Fixed 3", "7.50", "3"),
        ("f4", "Fixed 4", "10.00", "4"),
    ]
    assert per_source == [(1, 125)]
    assert typed == [("integer", "text", 125)]
    assert pragmas == [(4096,), ("delete",)]


def test_object_values_hold_every_attribute_once(tmp_path: Path) -> None:
    records = _products(30)
    records["7"] = {"name": "only a name"}
    files = build_bulk_files(tmp_path / "u_1.data", [BulkSource("Product", "user", 1, records)])
    with sqlite3.connect(files.data) as conn:
        stored = conn.execute("SELECT object, attrib, value FROM object_values").fetchall()
        attribs = conn.execute("SELECT source_attribs, last_inserted_size FROM sources").fetchone()
    rebuilt: dict[str, dict[str, str]] = {}
    for obj, attrib, value in stored:
        rebuilt.setdefault(obj, {})[attrib] = value
    assert rebuilt == records
    assert attribs == ("brand,29,name,30,price,29,quantity,29,sku,29", 30)


def test_archives_hold_the_same_database(tmp_path: Path) -> None:
    files = build_bulk_files(
        tmp_path / "a b_1795664188.data",
        [BulkSource("Product", "user", 3, _products(5))],
        built_at=1795664188,
    )
    raw = files.data.read_bytes()
    assert raw.startswith(b"SQLite format 3\x00")
    with zipfile.ZipFile(files.rzip) as archive:
        (info,) = archive.infolist()
        assert info.filename == "a%20b_1795664188.data"
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert archive.read(info) == raw
    assert gzip.decompress(files.gzip.read_bytes()) == raw
    assert int(files.data.stat().st_mtime) == 1795664188
    assert files.object_count == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a b_1795664188.data",
        "a b_1795664188.data.gzip",
        "a b_1795664188.data.rzip",
    ]


def test_rebuilding_replaces_the_files(tmp_path: Path) -> None:
    path = tmp_path / "x_1.data"
    build_bulk_files(path, [BulkSource("Product", "user", 3, _products(3))])
    build_bulk_files(path, [BulkSource("Product", "user", 3, _products(1))])
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(DISTINCT object) FROM object_values").fetchone() == (1,)
    assert len(list(tmp_path.iterdir())) == 3


def test_large_builds_on_disk_give_the_same_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import rhoconnect_mock.bulkfile as bulkfile

    monkeypatch.setattr(bulkfile, "IN_MEMORY_LIMIT", 2)
    files = build_bulk_files(tmp_path / "big_1.data", [BulkSource("Product", "user", 3, _products(10))])
    with sqlite3.connect(files.data) as conn:
        assert conn.execute("SELECT count(*) FROM object_values").fetchone() == (50,)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA freelist_count").fetchone() == (0,)


def test_odd_source_and_column_names_still_make_valid_sql(tmp_path: Path) -> None:
    schema = {"property": {'we"ird col': "string"}, "index": {"by weird": 'we"ird col'}}
    files = build_bulk_files(
        tmp_path / "o_1.data",
        [BulkSource("My Source", "app", 1, {"1": {'we"ird col': "v"}}, schema=schema)],
    )
    with sqlite3.connect(files.data) as conn:
        assert conn.execute('SELECT * FROM "My Source"').fetchall() == [("1", "v")]


def test_helpers() -> None:
    assert source_attribs({"b": 2, "a": 1}) == "a,1,b,2"
    assert source_attribs({}) == ""
    assert rzip_entry_name(Path("/x/Ü ser_1.data")) == "%C3%9C%20ser_1.data"
    assert re.fullmatch(r"[\w.%-]+", rzip_entry_name(Path("alice_1.data")))


def test_non_string_values_are_stored_as_text(tmp_path: Path) -> None:
    attrs = {"i": 7, "n": None, "t": True, "f": False, "l": [1, "2"], "d": {"x": "y"}, "r": 1.5, "s": "ünï"}
    files = build_bulk_files(tmp_path / "v_1.data", [BulkSource("Mixed", "user", 1, {"1": attrs})])
    with sqlite3.connect(files.data) as conn:
        stored = dict(conn.execute("SELECT attrib, value FROM object_values").fetchall())
    assert stored == {
        "i": "7", "n": None, "t": "True", "f": "False",
        "l": '[1,"2"]', "d": '{"x":"y"}', "r": "1.5", "s": "ünï",
    }  # fmt: skip


def test_many_records_go_in_by_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import rhoconnect_mock.bulkfile as bulkfile

    monkeypatch.setattr(bulkfile, "_JSON_CHUNK", 4)
    files = build_bulk_files(tmp_path / "c_1.data", [BulkSource("Product", "user", 1, _products(10))])
    with sqlite3.connect(files.data) as conn:
        counts = conn.execute("SELECT count(*), count(DISTINCT object) FROM object_values").fetchone()
        assert counts == (50, 10)
        assert conn.execute("SELECT source_attribs FROM sources").fetchone() == (
            "brand,10,name,10,price,10,quantity,10,sku,10",
        )
