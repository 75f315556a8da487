"""Bulk-load a Kaggle arXiv snapshot into the store: streamed, batched, idempotent.

The file is read line by line (never whole), so the 4 GB full snapshot needs no more memory
than a 200-line sample. Each batch of papers is one transaction through `store.papers.upsert`,
so an import killed half-way keeps every batch it committed and a re-run only adds the rest.
A bad line is recorded with its line number and skipped; a file that is not JSON lines at all
is refused before anything is written.
"""

from __future__ import annotations

import gzip
import logging
import os
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

from bot import proceedings
from bot.errors import MidlistError, StoreError
from bot.store import Store
from sources.errors import ParseError
from sources.models import Paper
from sources.snapshot import parse_line

log = logging.getLogger(__name__)

BATCH = 2000
MAX_BAD_KEPT = 1000  # bad lines remembered for the report; the count goes on past this
_HEAD = 4096  # bytes looked at to tell the kind of file
_EXPECTED = (
    "Expected the Kaggle arxiv-metadata-oai-snapshot file: one JSON object per line "
    "(.json or .jsonl, optionally .gz or .zip), or a proceedings list"
)
_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"
# What a damaged compressed file raises part-way through.
_DAMAGED = (OSError, EOFError, zlib.error, zipfile.BadZipFile)

Progress = Callable[[int, int], None]  # (bytes read so far, total bytes of the file on disk)


class ImportFileError(MidlistError):
    """The file cannot be imported at all: missing, a directory, or not a JSON-lines snapshot."""


@dataclass(slots=True)
class ImportReport:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason), first few
    bad_lines: int = 0  # every bad line, including those past MAX_BAD_KEPT
    unit: str = "line"  # what the numbers in `bad` count: lines, or records of a JSON array

    @property
    def papers(self) -> int:
        return self.new + self.updated + self.unchanged

    def summary(self) -> str:
        return (
            f"{_count(self.papers, 'paper')}: {self.new:,} new, {self.updated:,} updated, "
            f"{self.unchanged:,} unchanged, {_count(self.bad_lines, 'bad line')}"
        )


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def import_snapshot(
    path: str | os.PathLike[str],
    store: Store,
    progress: Progress | None = None,
    batch_size: int = BATCH,
) -> ImportReport:
    """Import every good line of `path`: `.json`/`.jsonl`, plain, gzip or Kaggle's one-file zip.

    A proceedings list (JSON lines or a JSON array, see `bot.proceedings`) is told from its
    content and imported with its venues and citation counts the same way.
    """
    path = Path(path)
    report = ImportReport()
    batch: list[Any] = []
    total = path.stat().st_size if path.is_file() else 0
    with _open_lines(path) as (lines, position, head):
        kind = proceedings.detect(head)
        parse: Callable[[Any], Any] = proceedings.parser(path, kind) if kind else parse_line
        flush = _guarded(proceedings.flush if kind else _flush)
        items: Iterator[Any] = lines
        if kind == proceedings.ARRAY:
            records, refused = proceedings.array_records(path, lines)
            if refused:
                raise ImportFileError(f"{path}: {refused}. {_EXPECTED}")
            items, report.unit = iter(records), "record"
        line_number = 0
        try:
            for line_number, line in enumerate(items, start=1):
                if isinstance(line, bytes):
                    # a truncated line reads "unterminated", not "control character"
                    line = line.strip()
                    if not line:
                        continue
                try:
                    batch.append(parse(line))
                except ParseError as exc:
                    _bad(report, line_number, exc.reason)
                    continue
                if len(batch) >= batch_size:
                    flush(store, batch, report)
                    if progress:
                        progress(position(), total)
        except _DAMAGED as exc:
            flush(store, batch, report)  # keep what was read before the damage
            raise ImportFileError(
                f"{path}: unreadable after line {line_number:,} ({exc}); the {report.papers:,} "
                "papers before it are stored. Fetch the file again and re-run: the import "
                "is idempotent"
            ) from exc
        flush(store, batch, report)
        if progress:
            progress(total, total)
    log.info("imported %s: %s", path, report.summary())
    return report


def _flush(store: Store, batch: list[Paper], report: ImportReport) -> None:
    if not batch:
        return
    counts = store.papers.upsert(batch)
    report.new += counts.new
    report.updated += counts.updated
    report.unchanged += counts.unchanged
    batch.clear()


def _guarded(flush: Callable[[Store, list[Any], ImportReport], None]) -> Callable[..., None]:
    """A batch the database refuses says what is stored already and how to finish."""

    def write(store: Store, batch: list[Any], report: ImportReport) -> None:
        try:
            flush(store, batch, report)
        except StoreError as exc:
            raise StoreError(
                f"{exc}; the {report.papers:,} papers before this batch are stored. Re-run the "
                "import to add the rest: it is idempotent"
            ) from exc

    return write


def _bad(report: ImportReport, line_number: int, reason: str) -> None:
    report.bad_lines += 1
    if len(report.bad) < MAX_BAD_KEPT:
        report.bad.append((line_number, reason))
    log.debug("line %d: %s", line_number, reason)


@contextmanager
def _open_lines(path: Path) -> Iterator[tuple[Iterator[bytes], Callable[[], int], bytes]]:
    """Binary lines of the (maybe compressed) file, how far into the file on disk we are, and
    its first bytes (what kind of file it is).

    Compression is told by the file's first bytes, not its name, so a `.json` that is really
    gzip still works and a `.gz` that is not gives a clear message. A zip (Kaggle's download
    is `archive.zip`) is read in place when it holds exactly one file.
    """
    if not path.exists():
        raise ImportFileError(f"{path}: no such file")
    if path.is_dir():
        raise ImportFileError(f"{path}: is a directory; give the snapshot file inside it")
    try:
        raw: BinaryIO = open(path, "rb")
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot open it: {exc.strerror}") from exc
    try:
        magic = raw.read(4)
        raw.seek(0)
        stream: BinaryIO
        if magic.startswith(_ZIP_MAGIC):
            stream = _zip_member(path, raw)
        elif magic.startswith(_GZIP_MAGIC):
            stream = cast(BinaryIO, gzip.GzipFile(fileobj=raw))  # a BufferedIOBase, read alike
        else:
            stream = raw
        head = _sniff(path, stream)
        yield iter(stream), raw.tell, head
    finally:
        raw.close()


def _zip_member(path: Path, raw: BinaryIO) -> BinaryIO:
    try:
        archive = zipfile.ZipFile(raw)
        files = [info for info in archive.infolist() if not info.is_dir()]
        if len(files) != 1:
            names = ", ".join(info.filename for info in files[:5]) or "nothing"
            raise ImportFileError(
                f"{path}: a zip archive holding {len(files)} files ({names}); unzip it and "
                "import the snapshot .json inside"
            )
        return archive.open(files[0])  # type: ignore[return-value]
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFileError(f"{path}: not a readable zip archive ({exc})") from exc


def _sniff(path: Path, stream: BinaryIO) -> bytes:
    """The first bytes; refuses a file that starts with neither a JSON object nor an array
    (proceedings lists), before a single row is written."""
    try:
        head = stream.peek(_HEAD)[:_HEAD] if hasattr(stream, "peek") else b""  # type: ignore[attr-defined]
    except _DAMAGED as exc:
        raise ImportFileError(f"{path}: not a readable compressed file ({exc})") from exc
    start = head.lstrip()[:1]
    if not head.strip() or start in (b"{", b"["):
        return head
    if start == b"<":
        kind = "an HTML or XML page (a failed download?)"
    elif b"ustar" in head or b"\0" in head:
        kind = "binary (a tar archive?); unpack it and import the .json file inside"
    else:
        kind = "not JSON lines"
    raise ImportFileError(f"{path}: {kind}. {_EXPECTED}")
