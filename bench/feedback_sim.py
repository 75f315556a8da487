"""Does Save / Skip feedback make the band's picks more on-niche? A simulated user says.

    python bench/feedback_sim.py

The corpus is split in two halves by a hash of the paper id: the user's half and a held-out
half. For every development niche, the user reads the first FEEDBACK_DIGESTS digests the
library ranker (`ranking.rank`) makes from the keywords alone over the user's half (no paper
twice, as in the real digest) and acts like someone who knows the niche: a pick carrying the
niche's label category is saved, any other pick skipped. Then one digest is made over the
held-out half, from the keywords alone ("before") and with the saved and skipped ids in the
profile ("after", where `ranking.feedback` comes in), and its band precision@10 (the share of
the picks that carry the label) is reported per niche and as a mean. Held-out papers were never
labelled, so "after" measures what the feedback taught, not what it memorised.

`simulate` takes a built index, so bench/quality.py can run it on the index it already has.
Prints a note and exits 0 when the data is absent.
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._corpus import CORPUS, DEV_NICHES, Corpus, load_corpus, load_niches  # noqa: E402
from ranking import NicheProfile, Ranking, TfidfIndex, build, rank  # noqa: E402

FEEDBACK_DIGESTS = 3  # digests the user labels ("the first few")
PICKS = 10
BAND = (15, 40)


@dataclass(frozen=True, slots=True)
class NicheResult:
    name: str
    saved: int
    skipped: int
    before: float  # band precision@10 on the held-out half, keywords only
    after: float  # the same with the saved and skipped ids in the profile
    pool: tuple[int, int]  # held-out pool sizes, before and after


def split(ids: Sequence[str]) -> tuple[set[str], set[str]]:
    """(user's half, held-out half), stable across runs and machines."""
    user, held_out = set(), set()
    for pid in ids:
        (user if zlib.crc32(pid.encode()) % 2 == 0 else held_out).add(pid)
    return user, held_out


def simulate_niche(
    index: TfidfIndex, on: set[str], profile: NicheProfile, user: set[str], held_out: set[str]
) -> NicheResult:
    """`on`: the ids that carry the niche's label."""
    shown: set[str] = set()
    saved: list[str] = []
    skipped: list[str] = []
    for _ in range(FEEDBACK_DIGESTS):
        for pick in rank(index, profile, limit=PICKS, exclude_ids=held_out | shown).picks:
            shown.add(pick.paper_id)
            (saved if pick.paper_id in on else skipped).append(pick.paper_id)
    taught = replace(profile, saved=tuple(saved), skipped=tuple(skipped))
    before = rank(index, profile, limit=PICKS, exclude_ids=user)
    after = rank(index, taught, limit=PICKS, exclude_ids=user)
    return NicheResult(
        profile.name,
        len(saved),
        len(skipped),
        _precision(before, on),
        _precision(after, on),
        (before.pool_size, after.pool_size),
    )


def _precision(ranking: Ranking, on: set[str]) -> float:
    """Over PICKS, so a digest that comes back short counts its missing picks as misses."""
    return sum(p.paper_id in on for p in ranking.picks) / PICKS


def simulate(
    index: TfidfIndex,
    corpus: Corpus,
    niches: Sequence[dict[str, Any]],
    band: tuple[int, int] = BAND,
) -> list[NicheResult]:
    """One result per niche, on an index built from `corpus`."""
    user, held_out = split(corpus.ids)
    results = []
    for niche in niches:
        on = {
            pid
            for pid, cats in zip(corpus.ids, corpus.categories, strict=True)
            if niche["label"] in cats
        }
        profile = NicheProfile(name=niche["name"], keywords=tuple(niche["keywords"]), band=band)
        results.append(simulate_niche(index, on, profile, user, held_out))
    return results


def report(results: Sequence[NicheResult]) -> str:
    lines = [
        f"Simulated feedback: save on-niche / skip off-niche picks of the first {FEEDBACK_DIGESTS} digests "
        f"(user's half); band precision@{PICKS} on the held-out half",
        f"{'niche':<22}{'saved':>6}{'skipped':>8}{'before':>8}{'after':>8}{'change':>8}{'pools':>10}",
    ]
    for r in results:
        lines.append(
            f"{r.name:<22}{r.saved:>6}{r.skipped:>8}{r.before:>8.2f}{r.after:>8.2f}"
            f"{r.after - r.before:>+8.2f}{f'{r.pool[0]}/{r.pool[1]}':>10}"
        )
    before = sum(r.before for r in results) / len(results)
    after = sum(r.after for r in results) / len(results)
    lines.append(f"{'mean':<36}{before:>8.3f}{after:>8.3f}{after - before:>+8.3f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    if not CORPUS.exists() or not DEV_NICHES.exists():
        print(f"skipped: {CORPUS.name} or {DEV_NICHES.name} is not beside the project")
        return 0
    started = time.monotonic()
    corpus = load_corpus()
    niches = load_niches()
    index = build(corpus.ids, corpus.docs, corpus.dates, [sorted(c) for c in corpus.categories])
    print(report(simulate(index, corpus, niches)))
    print(f"({len(index)} papers, {len(niches)} niches, {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
