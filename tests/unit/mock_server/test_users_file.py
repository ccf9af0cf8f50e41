"""``--users FILE``: login:password lines and JSON/YAML/TOML maps, refusals with the line number."""

from __future__ import annotations

from pathlib import Path

import pytest
from rhoconnect_mock.cli import main
from rhoconnect_mock.errors import ConfigError
from rhoconnect_mock.users_file import read_users_file


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def test_lines_keep_the_password_after_the_first_colon_as_it_is(tmp_path: Path) -> None:
    path = _file(tmp_path, "users.txt", "# team\nalice:s3:cr:et\r\n\nbob:p#w\ncarol:x\n")
    assert read_users_file(path) == {"alice": "s3:cr:et", "bob": "p#w", "carol": "x"}


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("users.json", '{"alice": "secret", "bob": "pw"}'),
        ("users.yaml", "alice: secret\nbob: pw\n"),
        ("users.yml", "users:\n  alice: secret\n  bob: pw\n"),
        ("users.toml", 'alice = "secret"\nbob = "pw"\n'),
        ("users.toml", '[users]\nalice = "secret"\nbob = "pw"\n'),
    ],
)
def test_maps_by_extension(tmp_path: Path, name: str, text: str) -> None:
    assert read_users_file(_file(tmp_path, name, text)) == {"alice": "secret", "bob": "pw"}


def test_a_numeric_yaml_password_is_text(tmp_path: Path) -> None:
    assert read_users_file(_file(tmp_path, "u.yaml", "alice: 1234\n")) == {"alice": "1234"}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("u.txt", "alice:ok\nalice: secret\n", "line 2: the password starts or ends with a space"),
        ("u.txt", "alice:ok\n\nbob:pw \n", "line 3: the password starts or ends with a space"),
        ("u.txt", " alice:pw\n", "line 1: the login starts or ends with a space"),
        ("u.txt", "alice:pw\nbob\n", "line 2: expected login:password, got 'bob'"),
        ("u.txt", ":pw\n", "line 1: expected login:password"),
        ("u.txt", "alice:\n", "line 1: empty password"),
        ("u.txt", '{"alice": "secret"}\n', "line 1: '{\"alice\"' is not a login"),
        ("u.txt", "# nobody\n", "no login:password line"),
        ("u.txt", "alice:pw\n\xff\n", None),
        ("u.json", '{"alice":\n "secret",,}', "line 2: not valid JSON"),
        ("u.yaml", "alice: [1\nbob: 2\n", "line 2: not valid YAML"),
        ("u.toml", 'alice = "a"\nbob = \n', "line 2: not valid TOML"),
        ("u.json", '["alice"]', "must hold a map of login to password"),
        ("u.yaml", "alice: [1, 2]\n", "the password of 'alice' must be a non-empty string"),
        ("u.json", '{"alice": ""}', "must be a non-empty string"),
    ],
)
def test_anything_else_is_refused_with_the_place(
    tmp_path: Path, name: str, text: str, message: str | None
) -> None:
    path = tmp_path / name
    path.write_bytes(text.encode("latin-1") if "\xff" in text else text.encode())
    with pytest.raises(ConfigError) as info:
        read_users_file(path)
    assert info.value.key == "--users"
    assert str(path) in str(info.value)
    assert message or "line 2: not UTF-8" in str(info.value)
    if message:
        assert message in str(info.value)


def test_the_command_line_prints_one_error_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _file(tmp_path, "users.txt", "alice: secret\n")
    with pytest.raises(SystemExit) as info:
        main(["serve", "--users", str(path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: --users: ") and err.count("\n") == 1 and "line 1" in err


def test_files_and_inline_users_combine(tmp_path: Path) -> None:
    from rhoconnect_mock.cli import build_config

    path = _file(tmp_path, "users.json", '{"alice": "secret"}')
    cfg = build_config({"users": (str(path), "bob:pw")}, {})
    assert cfg.users == {"alice": "secret", "bob": "pw"}
