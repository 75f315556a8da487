"""Ranking quality on the development niches: are the band picks on-niche?

For each niche of ../shared/eval/dev_niches.yaml, over ../shared/data/arxiv-cs-2025-2026.jsonl.gz:
precision@10 of the band picks (default band 15-40) against the niche's label category, of the
plain top-10, and of an arxiv-sanity-lite baseline (its published TfidfVectorizer configuration,
papers ranked by cosine to the keyword query); the pool size and the band picks' percentiles.
Goal: mean band precision@10 >= the baseline's mean top-10 precision.

The ranker also weighs how over-represented a paper's arXiv categories are among the niche's best
keyword matches; since the label is a category, the "text" column repeats the band with that
signal off (Weights(categories=0)) for the band ("text") and the plain top-10 ("text top"), so the
figures show what the text alone achieves. `--niches bench/more_niches.yaml` runs a second set of
niches on other categories: a change of weights should hold there too.

    python bench/quality.py [--band 15-40] [--limit 10] [--niches FILE] [--no-feedback]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._corpus import DEV_NICHES, Corpus, load_corpus, load_niches  # noqa: E402
from ranking import NicheProfile, Weights, build, rank  # noqa: E402


def asl_vectorizer() -> TfidfVectorizer:
    """arxiv-sanity-lite's compute.py configuration."""
    return TfidfVectorizer(
        ngram_range=(1, 2),
        max_features=20000,
        min_df=5,
        max_df=0.1,
        sublinear_tf=True,
        stop_words="english",
    )


def asl_top(vectorizer: TfidfVectorizer, x, keywords: list[str], k: int) -> list[int]:  # type: ignore[no-untyped-def]
    query = vectorizer.transform([" ".join(keywords)])
    sims = np.asarray((x @ query.T).todense()).ravel()
    return [int(i) for i in np.argsort(-sims, kind="stable")[:k] if sims[i] > 0]


def precision(rows: list[int], corpus: Corpus, label: str, k: int) -> float:
    return sum(label in corpus.categories[r] for r in rows[:k]) / k


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--band", default="15-40", help="percentile band, e.g. 15-40")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--niches", type=Path, default=DEV_NICHES, help="niches file to rank")
    parser.add_argument("--no-feedback", action="store_true", help="skip the simulated user")
    args = parser.parse_args(argv)
    lo, hi = (int(v) for v in args.band.split("-"))
    k = args.limit

    corpus = load_corpus()
    niches = load_niches(args.niches)
    t0 = time.perf_counter()
    index = build(corpus.ids, corpus.docs, corpus.dates, [sorted(c) for c in corpus.categories])
    t1 = time.perf_counter()
    vectorizer = asl_vectorizer()
    x_asl = vectorizer.fit_transform(corpus.docs)
    t2 = time.perf_counter()
    row = index.row_of

    print(f"{len(corpus.ids)} papers; midlist index {t1 - t0:.1f} s, baseline fit {t2 - t1:.1f} s")
    header = (
        f"{'niche':<22}{'label':<9}{'band':>6}{'text':>6}{'top':>6}{'text top':>9}{'ASL':>6}"
        f"{'pool':>6}  band picks' percentiles"
    )
    print(header)
    print("-" * len(header))
    totals = np.zeros(5)
    text_only = Weights(categories=0.0)
    for niche in niches:
        keywords = list(niche["keywords"])
        label = niche["label"]
        profile = NicheProfile(niche["name"], tuple(keywords), band=(lo, hi))
        band = rank(index, profile, limit=k)
        text = rank(index, profile, limit=k, weights=text_only)
        plain = NicheProfile(niche["name"], tuple(keywords), band=None)
        top = rank(index, plain, limit=k)
        text_top = rank(index, plain, limit=k, weights=text_only)
        figures = np.array(
            [
                precision([row[p.paper_id] for p in band.picks], corpus, label, k),
                precision([row[p.paper_id] for p in text.picks], corpus, label, k),
                precision([row[p.paper_id] for p in top.picks], corpus, label, k),
                precision([row[p.paper_id] for p in text_top.picks], corpus, label, k),
                precision(asl_top(vectorizer, x_asl, keywords, k), corpus, label, k),
            ]
        )
        totals += figures
        where = " ".join(f"{p.percentile:.0f}" for p in band.picks)
        print(
            f"{niche['name']:<22}{label:<9}"
            + "".join(f"{f:>{w}.2f}" for f, w in zip(figures, (6, 6, 6, 9, 6), strict=True))
            + f"{band.pool_size:>6}  {where}"
        )
    mean = totals / len(niches)
    print("-" * len(header))
    print(
        f"{'mean':<31}"
        + "".join(f"{f:>{w}.3f}" for f, w in zip(mean, (6, 6, 6, 9, 6), strict=True))
    )
    ok = mean[0] >= mean[4]
    print(
        f"{'PASS' if ok else 'FAIL'}: mean band precision@{k} {mean[0]:.3f} "
        f"{'>=' if ok else '<'} baseline top-{k} precision {mean[4]:.3f} "
        f"(text alone: {mean[1]:.3f})"
    )
    if args.no_feedback:
        return 0 if ok else 1
    from bench.feedback_sim import report, simulate  # the simulated Save / Skip user

    print("\n" + report(simulate(index, corpus, niches, band=(lo, hi))))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
