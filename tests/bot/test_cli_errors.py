"""Every fault is one plain `Error:` line and exit code 1 (usage errors: click's, exit code 2);
tracebacks only with -v; user data in a message is never read as markup or escape codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, ConfigFile, run_cli
from tests.sources.test_http import raw_server, trickle


@pytest.fixture
def config(config_file: ConfigFile) -> Path:
    return config_file()


@pytest.mark.parametrize("niche", ["[/x]", "[red]loud[/red]", "[link=https://evil.example]x"])
def test_markup_in_a_niche_name_prints_literally(config: Path, niche: str) -> None:
    code, out = run_cli(config, "queue", "list", "--niche", niche)
    assert code == 1
    assert out == f"Error: no niche named {niche!r} (known: ssm)\n"


def test_markup_in_a_config_path_prints_literally(tmp_path: Path) -> None:
    path = tmp_path / "[/x]" / "config.yaml"
    code, out = run_cli(path, "check")
    assert code == 1
    assert out.startswith(f"Error: {path}: no config file here")


def test_escape_sequences_in_an_error_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "a\x1b[2J\x1b]0;title\x07b" / "config.yaml"
    code, out = run_cli(path, "check")
    assert code == 1
    assert out.startswith(f"Error: {tmp_path}/ab/config.yaml: no config file here")


def test_verbose_adds_the_traceback_and_the_same_last_line(config: Path) -> None:
    code, quiet = run_cli(config, "queue", "list", "--niche", "nope")
    code_v, loud = run_cli(config, "-v", "queue", "list", "--niche", "nope")
    assert (code, code_v) == (1, 1)
    assert "Traceback" not in quiet
    assert "Traceback (most recent call last)" in loud
    assert loud.splitlines()[-1] == quiet.splitlines()[-1]


@pytest.mark.parametrize(
    "args, hint",
    [
        (["query", "ssm", "--since", "5000y"], "reaches back before the year 1"),
        (["query", "ssm", "--since", "99999999999999999999d"], "reaches back before the year 1"),
        (["digest", "--date", "0001-01-01", "--dry-run"], "0001-01-01 is out of range"),
        (["digest", "--date", "9999-12-31", "--dry-run"], "9999-12-31 is out of range"),
    ],
)
def test_out_of_range_numbers_in_flags_are_usage_errors(
    config: Path, args: list[str], hint: str
) -> None:
    code, out = run_cli(config, *args)
    assert code == 2
    assert hint in out
    assert "Traceback" not in out and "OverflowError" not in out


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_full_disk_is_one_line(config: Path) -> None:
    """stdout on a device that is always full: ENOSPC, nowhere handled, still one line."""
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(config), "queue", "list"],
            cwd=ROOT,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stderr == "Error: No space left on device\n"


def test_a_reader_that_stops_early_is_not_an_error(config: Path) -> None:
    """`midlist status | head -1`: the pipe closes under the writer, which exits quietly."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before a byte is written
    try:
        result = subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(config), "status"],
            cwd=ROOT,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (1, "")


def test_a_library_warning_with_a_traceback_is_one_line_without_verbose(
    config_file: ConfigFile,
) -> None:
    """A feed cut off in the middle of its headers: urllib3 logs a warning with its exception;
    without -v that is one line, not a traceback."""
    head = b"HTTP/1.1 200 OK\r\n" + b"X" * 40
    with raw_server(trickle(head[:17], head[17:], 0.1, [])) as (url, _):
        config = config_file(
            sources={
                "arxiv": {"enabled": False},
                "feeds": [
                    {"name": "slow", "url": url, "kind": "blog", "timeout_seconds": 1, "retries": 0}
                ],
            }
        )
        result = subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(config), "collect"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert "took longer than 1 s" in result.stdout
    assert "Traceback" not in result.stderr and "  File " not in result.stderr
