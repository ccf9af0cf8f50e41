"""What ``rhoconnect-mock serve`` tells a new user: the banner of what was loaded, config errors with
their line, the dashboard's address."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from rhoconnect_mock.cli import main


def serve_banner(*args: str) -> tuple[list[str], str]:
    """Start ``serve --port 0`` with ``args``, read its banner, check its URLs answer, stop it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "from rhoconnect_mock.cli import main; main()", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not lines or not lines[-1].startswith("Press Ctrl+C"):
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else "no banner"
            lines.append(line.rstrip("\n"))
        base = lines[1].split()[-1]
        # The addresses it shows answer: the landing page and the dashboard.
        assert requests.get(base + "/", timeout=10).status_code == 200
        assert requests.get(base + "/_mock/ui/", timeout=10).status_code == 200
        return lines, base
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=10)  # reaps it and closes both pipes
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def line_of(lines: list[str], label: str) -> str:
    return next(line for line in lines if line.strip().startswith(label))


def test_banner_tells_what_the_data_file_loaded(tmp_path: Path) -> None:
    data = tmp_path / "data.json"
    data.write_text(
        json.dumps({"Product": {"1": {"name": "one"}}, "Note": {"a": {"t": "x"}, "b": {"t": "y"}}})
    )
    lines, _ = serve_banner("--data", str(data))
    sources = line_of(lines, "sources")
    assert "Product (user, 1 record)" in sources and "Note (user, 2 records)" in sources
    assert "25" not in sources


def test_banner_counts_generated_records_and_names_the_dashboard() -> None:
    lines, base = serve_banner("--records", "Product=7", "--poll-interval", "Product=30")
    assert "Product (user, 7 records, poll interval 30 s)" in line_of(lines, "sources")
    assert line_of(lines, "dashboard").split()[1] == base + "/_mock/ui/"


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("bad.yaml", "seed: 1\nsources:\n  Product:\n    records: [1, 2\n", "line 5, column 1"),
        ("bad.yaml", "seed: 1\nusers: a: b\n", "line 2, column 9"),
        ("tab.yaml", "seed: 1\n\tsources: {}\n", "line 2, column 1"),
        ("bad.toml", "seed = 1\n[sources.Product]\nrecords = \n", "line 3"),
    ],
)
def test_config_syntax_errors_give_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, where: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(SystemExit) as info:
        main(["serve", "--config", str(path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and err.count("\n") == 1 and where in err, err


def test_scenario_file_syntax_errors_give_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text("faults:\n  - action: {type: reset\n")
    with pytest.raises(SystemExit) as info:
        main(["serve", "--scenario", str(path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "line 3" in err, err
