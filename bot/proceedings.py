"""Proceedings lists in `midlist import`: told from the content, written with their listings.

`bot.importer` opens the file (plain, gzip, zip) and asks `detect` what the first bytes are;
for a proceedings list it parses records with `parser` (a JSON array is loaded whole through
`array_records`: the collection's files are one venue-year each, a few MB) and writes each batch
through `flush`: papers, where they appeared and their citation counts, in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from bot.store import Store
from bot.store.citations import Count
from sources.proceedings import (
    Entry,
    looks_like_listing,
    parse_json_line,
    parse_record,
    venue_from_file_name,
)


class Tally(Protocol):
    """The counts an import report keeps (bot.importer.ImportReport)."""

    new: int
    updated: int
    unchanged: int


LINES = "lines"
ARRAY = "array"


def detect(head: bytes) -> str | None:
    """ARRAY or LINES for a proceedings list, None for anything else (an arXiv snapshot)."""
    start = head.lstrip()[:1]
    if start == b"[":
        return ARRAY
    if start != b"{":
        return None
    first = head.lstrip().split(b"\n", 1)[0]
    try:
        record = json.loads(first)
    except ValueError:  # the first line is longer than the head: look at its keys instead
        return LINES if b'"gs_citation"' in first or b'"venue"' in first[:200] else None
    return LINES if isinstance(record, dict) and looks_like_listing(record) else None


def array_records(path: Path, lines: Iterator[bytes]) -> tuple[list[Any], str | None]:
    """The records of a JSON-array file, or ([], why) when it is not a proceedings list."""
    try:
        records = json.loads(b"".join(lines))
    except (ValueError, RecursionError) as exc:
        return [], f"not valid JSON ({str(exc).splitlines()[0][:120]})"
    if not isinstance(records, list):
        return [], "not a JSON array"
    first = next((r for r in records if isinstance(r, dict)), None)
    if records and (first is None or not looks_like_listing(first)):
        return [], "one JSON array; midlist reads JSON lines, one object per line"
    return records, None


def parser(path: Path, kind: str) -> Any:
    """Record -> Entry for this file: array files name venue and year in the file name."""
    if kind == LINES:
        return parse_json_line
    venue, year = venue_from_file_name(path.name) or (None, None)

    def parse(record: Any) -> Entry:
        return parse_record(record, venue=venue, year=year)

    return parse


def flush(store: Store, batch: list[Entry], report: Tally) -> None:
    """Papers, listings and counts of one batch in one transaction."""
    if not batch:
        return
    with store.begin() as conn:
        counts = store.papers.upsert([e.paper for e in batch], conn)
        changed = store.citations.put_listings([e.listing for e in batch], conn)
        changed += store.citations.put_counts(
            [
                Count(e.listing.paper_id, e.listing.citation_source, e.listing.citations)
                for e in batch
                if e.listing.citations is not None
            ],
            conn,
        )
    # a new count on an unchanged paper is an update of what the store knows about it
    moved = min(changed, counts.unchanged)
    report.new += counts.new
    report.updated += counts.updated + moved
    report.unchanged += counts.unchanged - moved
    batch.clear()


__all__ = ["ARRAY", "LINES", "array_records", "detect", "flush", "parser"]
