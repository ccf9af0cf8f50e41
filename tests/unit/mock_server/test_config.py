"""Configuration: precedence (defaults < file < environment < flags) and errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from rhoconnect_mock import ConfigError, MockConfig, create_app, load_config
from rhoconnect_mock.config import config_from_env, resolve_config
from rhoconnect_mock.state import state_of


def test_defaults() -> None:
    cfg = MockConfig()
    assert [s.name for s in cfg.sources] == ["Product"]
    product = cfg.sources[0]
    assert (product.partition, product.records, product.attributes) == (
        "user",
        25,
        ("name", "brand", "price", "quantity", "sku"),
    )
    assert cfg.users is None and cfg.classic_prefix == "/application" and cfg.host == "127.0.0.1"
    assert cfg.bulk_wait_polls == 1 and cfg.bulk_dir is None and not cfg.classic_resend


def test_toml_and_yaml_files(tmp_path: Path) -> None:
    toml = tmp_path / "mock.toml"
    toml.write_text(
        'seed = 7\nusers = { alice = "pw" }\n[sources.Catalog]\npartition = "app"\nrecords = 3\n'
        "priority = 1\n[sources.Product]\nrecords = 2\n"
    )
    cfg = load_config(toml)
    assert cfg.seed == 7 and cfg.users == {"alice": "pw"}
    assert [(s.name, s.partition, s.records) for s in cfg.sources] == [
        ("Catalog", "app", 3),
        ("Product", "user", 2),
    ]
    yml = tmp_path / "mock.yaml"
    yml.write_text("classic_prefix: /app\nclassic_resend: true\nsources:\n  Product:\n    records: 4\n")
    cfg = load_config(yml)
    assert cfg.classic_prefix == "/app" and cfg.classic_resend and cfg.sources[0].records == 4


def test_precedence_file_env_flags(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text("seed = 1\nport = 1000\nthreads = 3\n[sources.Product]\nrecords = 10\n")
    env = {
        "RHOCONNECT_MOCK_SEED": "2",
        "RHOCONNECT_MOCK_PORT": "2000",
        "RHOCONNECT_MOCK_RECORDS": "Product=20",
    }
    cfg = resolve_config(path, env, {"port": 3000})
    assert (cfg.seed, cfg.port, cfg.threads, cfg.sources[0].records) == (2, 3000, 3, 20)
    assert config_from_env({"RHOCONNECT_MOCK_USERS": "a:1,b:2"}).users == {"a": "1", "b": "2"}


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("seed = 'x'", "seed"),
        ("colour = 1", "colour"),
        ("port = 70000", "port"),
        ("classic_prefix = 'app'", "classic_prefix"),
        ("[sources.P]\npartition = 'group'", "sources.P.partition"),
        ("[sources.P]\nrecords = -1", "sources.P.records"),
        ("[sources.P]\nwat = 1", "sources.P.wat"),
        ("[sources.P]\nschema = { property = { a = 'string' } }", "sources.P.schema.version"),
        ("[sources.P]\nschema = { version = '1.0' }", "sources.P.schema"),
        ("[sources.P]\ngenerator = 'random'", "sources.P.generator"),
        ("[sources.P]\npriority = 'high'", "sources.P.priority"),
        ("[sources.P]\npoll_interval = -5", "sources.P.poll_interval"),
        ("[sources.P]\nattributes = []", "sources.P.attributes"),
        ("[sources.P]\nmetadata = 3", "sources.P.metadata"),
        ("sources = 3", "sources"),
        ("id_template = 'x'", "id_template"),
        ("cookie_expire = 0", "cookie_expire"),
        ("users = 5", "users"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == key
    with pytest.raises(ConfigError) as info:
        resolve_config(path)
    assert str(info.value).startswith(f"{path}: {key}:")


def test_env_errors_name_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_config(None, {"RHOCONNECT_MOCK_SEED": "many"})
    assert info.value.key == "RHOCONNECT_MOCK_SEED"
    with pytest.raises(ConfigError) as info:
        resolve_config(None, {"RHOCONNECT_MOCK_NOPE": "1"})
    assert info.value.key == "RHOCONNECT_MOCK_NOPE"


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [")
    with pytest.raises(ConfigError, match="not valid"):
        load_config(bad)


def test_create_app_accepts_mapping_and_data_file(tmp_path: Path) -> None:
    data = tmp_path / "data.json"
    data.write_text('{"Product": {"p1": {"name": "Pen", "price": 1.5}}, "Extra": {"e": {"x": "y"}}}')
    app = create_app({"data": str(data)})
    state = state_of(app)
    assert dict(state.records("Product", "u")) == {"p1": {"name": "Pen", "price": "1.5"}}
    assert state.sources["Extra"].attributes == ("x",)
    data.write_text('{"Product": ["not", "a", "table"]}')
    with pytest.raises(ConfigError) as info:
        create_app({"data": str(data)})
    assert info.value.key == "data.Product"
