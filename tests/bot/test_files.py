"""The file channel writes what teammates can read: the umask's mode, or the configured `mode:`."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import FileChannel, parse_settings
from bot.deliver.files import write_file
from bot.errors import ConfigError
from bot.models import Digest
from tests.conftest import ROOT

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


LIMITED = """
import resource, signal, sys
from pathlib import Path
from bot.config import FeedChannel, FileChannel
from bot.deliver.feed import write_feed
from bot.deliver.files import write_file
from bot.errors import DeliveryError
from tests.bot.test_files import DIGEST
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (16, 16))
out = Path(sys.argv[1])
try:
    WRITE
except DeliveryError as exc:
    print(exc)
"""


def _write_past_16_bytes(write: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`write` run in a process whose files may not grow past 16 bytes."""
    return subprocess.run(
        [sys.executable, "-c", LIMITED.replace("WRITE", write), str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_write_that_fails_half_way_leaves_no_temp_file(tmp_path: Path) -> None:
    """The file system refuses the rest of the digest (a full disk, a file size limit)."""
    result = _write_past_16_bytes(
        'write_file("out", FileChannel(type="file", path=str(out / "{niche}-{date}.md")), DIGEST)',
        tmp_path,
    )
    assert result.stdout.startswith("channel out: cannot write "), result.stdout + result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_feed_write_that_fails_half_way_leaves_no_temp_file(tmp_path: Path) -> None:
    result = _write_past_16_bytes(
        'write_feed("reader", FeedChannel(type="feed", path=str(out / "{niche}.xml")), DIGEST)',
        tmp_path,
    )
    assert result.stdout.startswith("channel reader: cannot write "), result.stdout + result.stderr
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []
