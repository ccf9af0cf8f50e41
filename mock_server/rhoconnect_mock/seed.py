"""Deterministic datasets: records generated from a seed, or loaded from a JSON file.

Generation must be fast enough for a million records, so Faker is only used to build small pools
of realistic values (a few hundred per attribute, seeded); records are then assembled by drawing
from the pools with ``random.Random``. The same seed, source name and count always give the same
records. Every value is a string, as on the wire.
"""

from __future__ import annotations

import gc
import json
import random
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from faker import Faker

from .config import SourceConfig
from .errors import DataFileError

Records = dict[str, dict[str, str]]

_POOL_SIZE = 500


def _source_seed(seed: int, source: str) -> int:
    # str hash() is salted per process; crc32 keeps datasets identical across runs.
    return (seed * 1_000_003) ^ zlib.crc32(source.encode("utf-8"))


def _pool(fake: Faker, attr: str, rng: random.Random) -> list[str]:
    """A pool of plausible values for an attribute, chosen by its name."""
    key = attr.lower()
    make: Callable[[], str]
    if key in {"price", "cost", "amount", "total"}:
        return [f"{rng.randint(50, 99_999) / 100:.2f}" for _ in range(_POOL_SIZE)]
    if key in {"quantity", "qty", "count", "stock", "age"}:
        return [str(n) for n in range(_POOL_SIZE)]
    if key in {"brand", "company", "vendor", "manufacturer"}:
        make = fake.company
    elif key in {"name", "title", "product"}:

        def make() -> str:
            return f"{fake.color_name()} {fake.word().capitalize()}"
    elif hasattr(fake, key) and callable(getattr(fake, key)) and not key.startswith("_"):
        provider = getattr(fake, key)

        def make() -> str:
            return str(provider())
    else:

        def make() -> str:
            return str(fake.sentence(nb_words=3).rstrip("."))

    try:
        return [make() for _ in range(_POOL_SIZE)]
    except (TypeError, AttributeError):
        return [str(fake.word()) for _ in range(_POOL_SIZE)]


def generate_records(source: SourceConfig, seed: int, count: int | None = None) -> Records:
    """``count`` (default ``source.records``) records with ids ``"1".."N"``, deterministic."""
    n = source.records if count is None else count
    # A million new dicts would trigger the cyclic collector over and over; they hold only strings.
    enabled = gc.isenabled()
    gc.disable()
    try:
        if source.generator == "sequence":
            return sequence_records(source, n)
        return _faker_records(source, seed, n)
    finally:
        if enabled:
            gc.enable()


def _faker_records(source: SourceConfig, seed: int, n: int) -> Records:
    rng = random.Random(_source_seed(seed, source.name))
    fake = Faker()
    fake.seed_instance(_source_seed(seed, source.name))
    attrs = list(source.attributes)
    columns: list[list[str]] = []
    for attr in attrs:
        if attr.lower() in {"sku", "code", "serial"}:
            columns.append([f"SKU-{i:06d}" for i in range(1, n + 1)])
        else:
            columns.append(rng.choices(_pool(fake, attr, rng), k=n))
    ids = [str(i) for i in range(1, n + 1)]
    rows = zip(*columns, strict=True)
    return {oid: dict(zip(attrs, row, strict=True)) for oid, row in zip(ids, rows, strict=True)}


def sequence_records(source: SourceConfig, n: int) -> Records:
    """Records shaped like the RhoConnect test app of the reference transcripts.

    ``Product 7`` / ``Brand 0`` / ``8.75`` / ``7`` / ``SKU-000007`` for object ``"7"``, so recorded
    exchanges can be replayed against the mock byte for byte where the data matter.
    """
    out: Records = {}
    for i in range(1, n + 1):
        rec: dict[str, str] = {}
        for attr in source.attributes:
            key = attr.lower()
            if key == "name":
                rec[attr] = f"{source.name} {i}"
            elif key == "brand":
                rec[attr] = f"Brand {i % 7}"
            elif key == "price":
                rec[attr] = f"{i * 1.25:.2f}"
            elif key in {"quantity", "qty"}:
                rec[attr] = str(i)
            elif key == "sku":
                rec[attr] = f"SKU-{i:06d}"
            else:
                rec[attr] = f"{attr} {i}"
        out[str(i)] = rec
    return out


def normalise_records(data: Any, where: str) -> Records:
    """Check ``{"id": {"attr": value}}`` and turn every value into a string."""
    if not isinstance(data, dict):
        raise DataFileError(where, "must map object ids to attribute tables")
    out: Records = {}
    for oid, attrs in data.items():
        if not isinstance(attrs, dict):
            raise DataFileError(f"{where}.{oid}", "must be a table of attribute values")
        out[str(oid)] = {
            str(k): v if isinstance(v, str) else json.dumps(v) for k, v in attrs.items() if v is not None
        }
    return out


def load_data_file(path: Path) -> dict[str, Records]:
    """Read ``{"Source": {"id": {"attr": "value"}}}`` from a JSON file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataFileError("data", f"cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataFileError("data", f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise DataFileError("data", f"{path} must map source names to records")
    return {str(name): normalise_records(recs, f"data.{name}") for name, recs in data.items()}
