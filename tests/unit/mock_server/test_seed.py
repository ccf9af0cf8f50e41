"""Generated datasets: deterministic per seed, sized per source, string values, fast pools."""

from __future__ import annotations

from rhoconnect_mock.config import SourceConfig
from rhoconnect_mock.seed import generate_records, sequence_records


def test_same_seed_same_data_other_seed_other_data() -> None:
    src = SourceConfig(name="Product", records=200)
    a, b, c = generate_records(src, 1), generate_records(src, 1), generate_records(src, 2)
    assert a == b and a != c
    assert list(a) == [str(i) for i in range(1, 201)]
    assert all(set(r) == {"name", "brand", "price", "quantity", "sku"} for r in a.values())
    assert all(isinstance(v, str) for r in a.values() for v in r.values())
    assert len({r["name"] for r in a.values()}) > 50  # varied, not one value repeated


def test_sources_differ_and_counts_apply() -> None:
    a = generate_records(SourceConfig(name="A", records=5, attributes=("city", "email")), 0)
    b = generate_records(SourceConfig(name="B", records=5, attributes=("city", "email")), 0)
    assert a != b
    assert len(generate_records(SourceConfig(name="A"), 0, count=1234)) == 1234
    assert "@" in a["1"]["email"]


def test_sequence_matches_transcript_values() -> None:
    recs = sequence_records(SourceConfig(name="Product"), 25)
    assert recs["7"] == {
        "name": "Product 7",
        "brand": "Brand 0",
        "price": "8.75",
        "quantity": "7",
        "sku": "SKU-000007",
    }
    assert recs["25"]["price"] == "31.25"


def test_user_partition_dataset_is_shared_lazily() -> None:
    from rhoconnect_mock.config import MockConfig
    from rhoconnect_mock.state import MockState

    state = MockState(MockConfig(sources=[SourceConfig(name="P", records=3)]))
    alice, bob = state.records("P", "alice"), state.records("P", "bob")
    assert dict(alice) == dict(bob)
    assert alice["1"] is bob["1"]  # no copy of the values per user
    state.backend_update("P", "alice", "1", {"name": "mine"})
    assert state.records("P", "bob")["1"]["name"] != "mine"
