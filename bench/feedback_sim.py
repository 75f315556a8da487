"""Does Save / Skip feedback make the band's picks more on-niche? A simulated user says.

    python bench/feedback_sim.py [--corpus FILE] [--niches FILE] [--weight 0.5]

For every development niche, a user reads the first FEEDBACK_DIGESTS digests as the keyword
ranker alone makes them and acts like someone who knows the niche: a pick carrying the niche's
label category is saved, any other pick skipped. `ranking.feedback.feedback_scores` learns from
those labels (skips as negatives) and its score is blended with keyword relevance (`--weight`).
Then the next EVAL_DIGESTS digests are made twice, keywords only ("before") and blended
("after"), and band precision@10 (the share of a digest's 10 picks that carry the label) is
averaged over them, per niche and as a mean. No digest repeats a paper shown before.

The ranker here is deliberately plain (TF-IDF cosine to the keywords; the on-niche pool is the
top POOL papers with any keyword relevance; the band is its 15-40% slice; a digest takes 10
picks spread evenly across the unseen part of the band), so the figures isolate what feedback
adds. Prints a note and exits 0 when the data is absent.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sklearn.feature_extraction.text import TfidfVectorizer

from ranking.feedback import feedback_scores

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "data" / "arxiv-cs-2025-2026.jsonl.gz"
NICHES = ROOT.parent / "shared" / "eval" / "dev_niches.yaml"
FEEDBACK_DIGESTS = 5  # digests the user labels
EVAL_DIGESTS = 5  # digests measured afterwards, before and after feedback
PICKS = 10
POOL = 1000  # the on-niche pool: the top POOL papers by keyword relevance
BAND = (15, 40)


@dataclass(frozen=True, slots=True)
class Corpus:
    ids: list[str]
    texts: list[str]
    categories: list[frozenset[str]]


@dataclass(frozen=True, slots=True)
class NicheResult:
    name: str
    saved: int
    skipped: int
    before: float  # mean band precision@10 over the unseen digests, keywords only
    after: float  # the same with feedback blended in


def load_corpus(path: Path) -> Corpus:
    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            rows.append((d.get("update_date") or "", d["id"], d["title"], d.get("abstract") or "", d["categories"]))
    rows.sort()
    return Corpus(
        ids=[r[1] for r in rows],
        texts=[f"{r[2]}\n{r[3]}" for r in rows],
        categories=[frozenset(r[4].split()) for r in rows],
    )


def vectorise(corpus: Corpus) -> tuple[Any, TfidfVectorizer]:
    """arxiv-sanity's recipe: unigrams and bigrams, sublinear tf, common words capped."""
    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2), min_df=5, max_df=0.1, sublinear_tf=True, stop_words="english",
        max_features=200_000, dtype=np.float32,
    )
    return vectorizer.fit_transform(corpus.texts), vectorizer


def band(score: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """The band of the on-niche pool (the top POOL candidates), most mainstream first."""
    order = candidates[np.argsort(-score[candidates], kind="stable")][:POOL]
    return order[(len(order) * BAND[0]) // 100 : max((len(order) * BAND[1]) // 100, 1)]


def digest(score: np.ndarray, candidates: np.ndarray, shown: set[int]) -> list[int]:
    """PICKS papers spread evenly over the band, none shown before (a digest never repeats)."""
    fresh = np.array([r for r in band(score, candidates) if int(r) not in shown], dtype=int)
    if len(fresh) <= PICKS:
        return [int(r) for r in fresh]
    return [int(fresh[i]) for i in np.linspace(0, len(fresh) - 1, PICKS).round().astype(int)]


def simulate_niche(
    X: Any, vectorizer: TfidfVectorizer, on: np.ndarray, name: str, keywords: Sequence[str], weight: float
) -> NicheResult:
    relevance = np.asarray((X @ vectorizer.transform([" ".join(keywords)]).T).todense()).ravel()
    relevance = relevance / max(float(relevance.max()), 1e-12)
    candidates = np.flatnonzero(relevance > 0)
    shown: set[int] = set()
    saved: list[int] = []
    skipped: list[int] = []
    for _ in range(FEEDBACK_DIGESTS):
        for r in digest(relevance, candidates, shown):
            shown.add(r)
            (saved if on[r] else skipped).append(r)
    learned = feedback_scores(X, saved, skipped)
    blended = relevance if learned is None else (1 - weight) * relevance + weight * learned
    precision = {}
    for label, score in (("before", relevance), ("after", blended)):
        seen = set(shown)
        per_digest = []
        for _ in range(EVAL_DIGESTS):
            picks = digest(score, candidates, seen)
            seen.update(picks)
            per_digest.append(float(on[picks].mean()) if picks else 0.0)
        precision[label] = float(np.mean(per_digest))
    return NicheResult(name, len(saved), len(skipped), precision["before"], precision["after"])


def simulate(corpus: Corpus, niches: Sequence[dict[str, Any]], weight: float = 0.5) -> list[NicheResult]:
    X, vectorizer = vectorise(corpus)
    results = []
    for niche in niches:
        on = np.array([niche["label"] in cats for cats in corpus.categories])
        results.append(simulate_niche(X, vectorizer, on, niche["name"], niche["keywords"], weight))
    return results


def report(results: Sequence[NicheResult], weight: float) -> str:
    lines = [
        f"Simulated feedback: save on-niche / skip off-niche picks in the first {FEEDBACK_DIGESTS} "
        f"digests; band precision@{PICKS}, mean of the next {EVAL_DIGESTS}; feedback weight {weight}",
        f"{'niche':<22}{'saved':>6}{'skipped':>8}{'before':>8}{'after':>8}{'change':>8}",
    ]
    for r in results:
        lines.append(
            f"{r.name:<22}{r.saved:>6}{r.skipped:>8}{r.before:>8.3f}{r.after:>8.3f}{r.after - r.before:>+8.3f}"
        )
    before = float(np.mean([r.before for r in results]))
    after = float(np.mean([r.after for r in results]))
    lines.append(f"{'mean':<36}{before:>8.3f}{after:>8.3f}{after - before:>+8.3f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--niches", type=Path, default=NICHES)
    parser.add_argument("--weight", type=float, default=0.5, help="share of the feedback score in the blend")
    args = parser.parse_args(argv)
    if not args.corpus.exists() or not args.niches.exists():
        print(f"skipped: {args.corpus.name} or {args.niches.name} is not beside the project")
        return 0
    started = time.monotonic()
    corpus = load_corpus(args.corpus)
    niches = yaml.safe_load(args.niches.read_text(encoding="utf-8"))["niches"]
    results = simulate(corpus, niches, args.weight)
    print(report(results, args.weight))
    print(f"({len(corpus.ids)} papers, {len(niches)} niches, {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
