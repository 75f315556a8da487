"""How fast `midlist import` loads the 74.7k-paper arXiv cs corpus, and how much memory it takes.

    python bench/import_speed.py [FILE] [--baseline-lines N] [--url STORAGE_URL]

Imports FILE (default: the corpus in ../shared/data beside the project) into a fresh temporary
SQLite store and prints papers/s, wall time and the process's peak RSS, then the rate of a
re-import (every paper unchanged). Two reference points are measured in the same run, on the
same machine, so the figures can be compared even when the machine is busy:

- naive: `json.loads` each line and INSERT one row per transaction with plain sqlite3, on the
  first N lines, extrapolated (what a first script would do);
- ceiling: decompress and `json.loads` every line, nothing stored (no importer can beat it).

With `--url` (an empty database, e.g. `postgresql+psycopg://user@host/bench`), the file is also
imported there, and its rate is printed beside the SQLite one measured in the same run.

Goals (issue 2): at least 5,000 papers/s and a peak RSS of at most 500 MB. Exits 1 if one is
missed, 0 when met or when the data is absent (it says so and skips).
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from bot.importer import import_snapshot
from bot.store import Store

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "data" / "arxiv-cs-2025-2026.jsonl.gz"
GOAL_RATE = 5000  # papers/s
GOAL_RSS_MB = 500


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", nargs="?", type=Path, default=CORPUS)
    parser.add_argument("--baseline-lines", type=int, default=2000)
    parser.add_argument("--url", help="also import into this (empty) database and compare")
    args = parser.parse_args()
    if not args.file.is_file():
        print(f"skipped: {args.file} is not there (the benchmark needs the shared arXiv corpus)")
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'bench.db'}")
        try:
            first, wall = _timed(lambda: import_snapshot(args.file, store))
            peak_mb = _peak_rss_mb()  # measured before anything else runs in this process
            again, rewall = _timed(lambda: import_snapshot(args.file, store))
        finally:
            store.close()
        naive_rate = _naive(args.file, args.baseline_lines, Path(tmp) / "naive.db")
    ceiling_rate = _ceiling(args.file)

    rate = first.papers / wall
    print(f"file      {args.file.name} ({args.file.stat().st_size / 1e6:.1f} MB on disk)")
    print(f"import    {first.summary()}")
    print(f"          {wall:.2f} s wall, {rate:,.0f} papers/s, peak RSS {peak_mb:.0f} MB")
    print(f"re-import {again.summary()}")
    print(f"          {rewall:.2f} s wall, {again.papers / rewall:,.0f} papers/s")
    print(
        f"naive     {naive_rate:,.0f} papers/s (json.loads + one INSERT per transaction, plain "
        f"sqlite3, first {args.baseline_lines:,} lines, extrapolated): import is "
        f"{rate / naive_rate:.1f}x faster"
    )
    print(
        f"ceiling   {ceiling_rate:,.0f} papers/s (decompress + json.loads only, nothing stored): "
        f"import runs at {rate / ceiling_rate:.0%} of it"
    )
    if args.url:
        other = Store(args.url)
        try:
            theirs, their_wall = _timed(lambda: import_snapshot(args.file, other))
            again_there, their_rewall = _timed(lambda: import_snapshot(args.file, other))
        finally:
            other.close()
        their_rate = theirs.papers / their_wall
        print(f"{other.dialect:<9} {theirs.summary()}")
        print(
            f"          {their_wall:.2f} s wall, {their_rate:,.0f} papers/s "
            f"({their_rate / rate:.2f}x SQLite's rate in this run); re-import "
            f"{again_there.papers / their_rewall:,.0f} papers/s"
        )
    ok_rate = rate >= GOAL_RATE
    ok_rss = peak_mb <= GOAL_RSS_MB
    print(f"goal      >= {GOAL_RATE:,} papers/s: {'PASS' if ok_rate else 'FAIL'} ({rate:,.0f})")
    print(
        f"goal      peak RSS <= {GOAL_RSS_MB} MB: {'PASS' if ok_rss else 'FAIL'} ({peak_mb:.0f} MB)"
    )
    return 0 if ok_rate and ok_rss else 1


def _timed(run):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = run()
    return result, time.perf_counter() - start


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (
        peak / 1024 if sys.platform != "darwin" else peak / 1024 / 1024
    )  # KB on Linux, bytes on macOS


def _lines(path: Path):  # type: ignore[no-untyped-def]
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


def _naive(path: Path, limit: int, db: Path) -> float:
    conn = sqlite3.connect(db)
    conn.execute(
        "CREATE TABLE papers (id TEXT PRIMARY KEY, title TEXT, abstract TEXT, authors TEXT, "
        "categories TEXT, updated TEXT)"
    )
    conn.commit()
    start = time.perf_counter()
    n = 0
    with _lines(path) as lines:
        for line in itertools.islice(lines, limit):
            r = json.loads(line)
            conn.execute(
                "INSERT OR REPLACE INTO papers VALUES (?, ?, ?, ?, ?, ?)",
                (
                    r["id"],
                    r["title"],
                    r.get("abstract"),
                    r.get("authors"),
                    r.get("categories"),
                    r.get("update_date"),
                ),
            )
            conn.commit()
            n += 1
    elapsed = time.perf_counter() - start
    conn.close()
    return n / elapsed


def _ceiling(path: Path) -> float:
    start = time.perf_counter()
    n = 0
    with _lines(path) as lines:
        for line in lines:
            json.loads(line)
            n += 1
    return n / (time.perf_counter() - start)


if __name__ == "__main__":
    sys.exit(main())
