"""Classics: how fast the proceedings list imports, and what the citation band picks look like.

    python bench/classics.py [FILE]

1. Imports FILE (default: the 50k-paper classics list in ../shared/data beside the project) into
   a fresh temporary SQLite store and prints papers/s, then the rate of a re-import (every paper
   unchanged). The reference measured in the same run is the ceiling: decompress and
   `json.loads` every line, nothing parsed into papers, nothing stored.
2. For three niches ordered by citations, the citation counts of the top picks (`band: top`)
   against those of the band picks (15-40%): the band should sit well below the top and well
   above zero, the "quirky middle" by popularity.
Exits 0, also when the data is absent (it says so and skips).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.import_speed import _ceiling  # noqa: E402
from bot.classics import Scope  # noqa: E402
from bot.config import parse_settings  # noqa: E402
from bot.importer import import_snapshot  # noqa: E402
from bot.rank import rank_niche  # noqa: E402
from bot.store import Store  # noqa: E402
from ranking import NicheProfile  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CLASSICS = ROOT.parent / "shared" / "data" / "classics" / "ml-venues-with-citations.jsonl.gz"
NICHES = [  # name, keywords, venues, years
    ("connectionism", ("neural network",), ("neurips",), (1987, 1997)),
    ("reinforcement learning", ("reinforcement learning",), ("neurips", "icml"), None),
    ("machine translation", ("machine translation",), ("acl", "naacl", "coling"), None),
]
PICKS = 10


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", nargs="?", type=Path, default=CLASSICS)
    args = parser.parse_args()
    if not args.file.is_file():
        print(f"skipped: {args.file} is not there (the benchmark needs the classics list)")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        store = Store(url)
        try:
            start = time.perf_counter()
            first = import_snapshot(args.file, store)
            wall = time.perf_counter() - start
            start = time.perf_counter()
            again = import_snapshot(args.file, store)
            rewall = time.perf_counter() - start
            ceiling = _ceiling(args.file)
            rate = first.papers / wall
            print(f"import: {first.summary()}")
            print(
                f"  {wall:.1f} s, {rate:,.0f} papers/s; re-import {again.papers / rewall:,.0f} papers/s"
            )
            print(
                f"  ceiling (decompress + json.loads only): {ceiling:,.0f} lines/s; import/ceiling = {rate / ceiling:.2f}"
            )
            settings = parse_settings(
                {"storage": {"url": url, "index_dir": str(Path(tmp) / "index")}}
            )
            print(f"\ncitation counts of {PICKS} picks, pool ordered by citations:")
            for name, keywords, venues, years in NICHES:
                scope = Scope(venues, years)
                top = _counts(settings, store, name, keywords, scope, None)
                band = _counts(settings, store, name, keywords, scope, (15, 40))
                print(f"  {name} ({scope.label()}, pool {top[1]}):")
                print(f"    top:    {_describe(top[0])}")
                print(f"    15-40%: {_describe(band[0])}")
        finally:
            store.close()
    return 0


def _counts(settings, store, name, keywords, scope, band):  # type: ignore[no-untyped-def]
    profile = NicheProfile(name, keywords, band=band)
    ranking, _ = rank_niche(settings, store, profile, limit=PICKS, order="citations", scope=scope)
    return [p.citations or 0 for p in ranking.picks], ranking.pool_size


def _describe(counts: list[int]) -> str:
    if not counts:
        return "no picks"
    return f"{min(counts):>6,} - {max(counts):>7,} (median {statistics.median(counts):,.0f})"


if __name__ == "__main__":
    sys.exit(main())
