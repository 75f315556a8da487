"""The file channel writes what teammates can read: the umask's mode, or the configured `mode:`."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import FileChannel, parse_settings
from bot.deliver.files import write_file
from bot.errors import ConfigError
from bot.models import Digest

DIGEST = Digest(niche="ssm", day="2026-11-19", basis="nothing new", note="Nothing new today.")


@pytest.fixture
def umask() -> Iterator[None]:
    """Run under a known umask, restored after."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def channel(tmp_path: Path, **extra: object) -> FileChannel:
    return FileChannel(type="file", path=str(tmp_path / "{niche}-{date}.md"), **extra)  # type: ignore[arg-type]


def test_a_digest_file_follows_the_umask(tmp_path: Path, umask: None) -> None:
    assert mode_of(write_file("out", channel(tmp_path), DIGEST)) == 0o644
    os.umask(0o027)
    assert mode_of(write_file("out", channel(tmp_path), DIGEST)) == 0o640


@pytest.mark.parametrize(("given", "expected"), [("0600", 0o600), ("640", 0o640), (0o664, 0o664)])
def test_a_configured_mode_wins(tmp_path: Path, umask: None, given: object, expected: int) -> None:
    path = write_file("out", channel(tmp_path, mode=given), DIGEST)
    assert mode_of(path) == expected
    assert path.read_text(encoding="utf-8").startswith("# midlist · ssm · 2026-11-19")


@pytest.mark.parametrize(
    ("given", "problem"), [("rw-r--r--", "not an octal"), ("1777", "not a file mode")]
)
def test_a_bad_mode_names_the_key(given: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=rf"channels\.out\.mode: .*{problem}"):
        parse_settings({"channels": {"out": {"type": "file", "path": "d.md", "mode": given}}})
