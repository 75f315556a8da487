"""What the sanitising step costs per paper, against the same dataclass without it, in one run.

Every Paper cleans its text when it is made (sources/sanitize.py), so a 2.5M-paper import pays
it 2.5M times. Records are the real snapshot's beside the project when it is there (its first
N lines, prepared by the importer's own parser), else a synthetic one. Goal: at most 10 µs a paper over the baseline
(25 s over a 2.5M import); the figure printed is the median of several rounds.

    python bench/sanitize.py [--papers 50000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
from dataclasses import field, fields, make_dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sources.errors import SourceError  # noqa: E402
from sources.models import Paper  # noqa: E402
from sources.snapshot import parse_line  # noqa: E402

GOAL_US = 10.0
SNAPSHOTS = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


# Paper's fields without its __post_init__: the baseline.
Unsanitised = make_dataclass(
    "Unsanitised",
    [(f.name, f.type, field(default=f.default)) for f in fields(Paper)],
    frozen=True,
    slots=True,
)


def records(n: int) -> tuple[list[dict[str, Any]], str]:
    """Paper fields as the snapshot importer prepares them, from the real data when present."""
    for path in sorted(SNAPSHOTS.glob("*.jsonl*")) if SNAPSHOTS.exists() else []:
        out = []
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                try:
                    paper = parse_line(line)
                except (SourceError, ValueError):
                    continue
                out.append({f.name: getattr(paper, f.name) for f in fields(paper)})
                if len(out) == n:
                    break
        if len(out) >= min(n, 1000):
            return out, path.name
    abstract = "We study state space models with selective scan and linear recurrence. " * 12
    synthetic = {
        "title": "Selective Scan for Long Context",
        "abstract": abstract,
        "authors": ("Ada Quill", "Bo Tern"),
        "categories": ("cs.LG",),
    }
    return [{"id": f"2405.{i % 99999:05d}", **synthetic} for i in range(n)], "synthetic"


def per_paper(cls: type, rows: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    for row in rows:
        cls(**row)
    return (time.perf_counter() - started) / len(rows) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rows, origin = records(args.papers)
    base, clean = [], []
    for _ in range(args.rounds):
        base.append(per_paper(Unsanitised, rows))
        clean.append(per_paper(Paper, rows))
    b, c = statistics.median(base), statistics.median(clean)
    print(f"records: {len(rows):,} from {origin}")
    print(f"baseline dataclass: {b:.2f} µs/paper")
    print(f"Paper (sanitised):  {c:.2f} µs/paper  ratio {c / b:.2f}x")
    verdict = "PASS" if c - b <= GOAL_US else "FAIL"
    print(
        f"cost of sanitising: {c - b:.2f} µs/paper, {(c - b) * 2.5:.1f} s over 2.5M papers "
        f"(goal <= {GOAL_US:g} µs): {verdict}"
    )


if __name__ == "__main__":
    main()
