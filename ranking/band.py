"""The quirky middle: the on-niche pool, ordered by how mainstream, and the percentile band.

1. Pool. Candidates (papers that match the niche at all) are kept when their relevance is at
   least POOL_RATIO of the reference relevance, the mean of the REFERENCE best candidates. The
   pool therefore grows with the niche: a broad niche has many papers close to its best ones,
   a narrow niche few. A fixed top-k, or "any keyword overlap", would not.
2. Order. Within the pool, by default mainstream = relevance * (1 + MENTION_BOOST *
   log2(1 + mentions)): a paper people discuss moves towards the top (percentile 0), a quiet
   one sinks. `order="citations"` orders the pool by citation count instead (unknown counts
   last), `order="mentions"` by mentions; ties break on relevance. The pool itself is still
   chosen by relevance, so [15, 40] becomes "the 15-40% most-cited papers of this niche".
3. Band. A paper at position i of a pool of N sits at percentile 100 * i / N. Picks are spread
   evenly over the band [lo, hi); if that is not enough (small pool, papers already delivered,
   near-duplicates), the nearest positions outside the band fill up, so `limit` picks come back
   whenever the pool holds that many. `band=None` takes the plain top.
4. Diversity. A paper whose cosine to an accepted pick is DUPLICATE or more is skipped.
Ties break on the paper id, so the same input always gives the same picks.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np

from ranking.index import TfidfIndex
from ranking.models import NicheProfile, Pick, Ranking
from ranking.relevance import Scores

POOL_RATIO = 0.5
REFERENCE = 10
MENTION_BOOST = 0.5
DUPLICATE = 0.8
ORDERS = ("relevance", "citations", "mentions")


def pool(scores: Scores) -> np.ndarray:
    """Positions (in `scores`) of the on-niche pool, most relevant first."""
    cand = np.arange(len(scores.rows))
    if not len(cand):
        return cand
    rel = scores.relevance
    order = np.lexsort((np.array(scores.ids), -rel))
    cand, rel = cand[order], rel[order]
    reference = rel[:REFERENCE].mean()
    members: np.ndarray = cand[rel >= POOL_RATIO * reference]
    return members


def select(
    index: TfidfIndex,
    profile: NicheProfile,
    scores: Scores,
    *,
    limit: int,
    mentions: Mapping[str, int] | None = None,
    exclude_ids: Collection[str] = (),
    order: str = "relevance",
    popularity: Mapping[str, int] | None = None,
    scope: str = "",
) -> Ranking:
    """The band picks; `popularity` (citation counts) orders the pool when `order` says so,
    `scope` names the papers ranked in the reasons ("NeurIPS 1987-1997")."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}, got {order!r}")
    mentions = mentions or {}
    popularity = popularity or {}
    members = pool(scores)
    ids = scores.ids
    n = len(members)
    if n == 0 or limit <= 0:
        return Ranking(picks=(), pool_size=n, candidates=len(scores.candidates))
    counts = np.array([mentions.get(ids[r], 0) for r in members], dtype=np.float64)
    cited = np.array([popularity.get(ids[r], -1) for r in members], dtype=np.float64)
    relevance = scores.relevance[members]
    names = np.array([ids[r] for r in members])
    if order == "citations":
        ordering = np.lexsort((names, -relevance, -cited))
    elif order == "mentions":
        ordering = np.lexsort((names, -relevance, -counts))
    else:
        mainstream = relevance * (1 + MENTION_BOOST * np.log2(1 + counts))
        ordering = np.lexsort((names, -mainstream))
    members, counts, cited = members[ordering], counts[ordering], cited[ordering]
    excluded = set(exclude_ids)
    eligible = [p for p in _visit_order(n, profile.band, limit) if ids[members[p]] not in excluded]
    chosen = _diverse(scores, members, eligible, limit)
    chosen.sort()
    top = scores.relevance[members].max()
    picks = tuple(
        _pick(
            profile,
            scores,
            members[p],
            p,
            n,
            int(counts[p]),
            top,
            citations=None if cited[p] < 0 else int(cited[p]),
            order=order,
            scope=scope,
        )
        for p in chosen
    )
    return Ranking(picks=picks, pool_size=n, candidates=len(scores.candidates))


def _diverse(scores: Scores, members: np.ndarray, eligible: list[int], limit: int) -> list[int]:
    """The first `limit` eligible positions, skipping any too similar to one already taken.

    Similarities come from one product over a window of candidates (widened only if needed).
    """
    chosen: list[int] = []
    start, window = 0, max(4 * limit, 40)
    while start < len(eligible) and len(chosen) < limit:
        batch = eligible[: start + window]
        rows = members[batch]
        sims = scores.vectors[rows].gram()
        at = {p: i for i, p in enumerate(batch)}
        taken = [at[p] for p in chosen]
        for i in range(start, len(batch)):
            if taken and sims[i, taken].max() >= DUPLICATE:
                continue
            chosen.append(batch[i])
            taken.append(i)
            if len(chosen) == limit:
                break
        start, window = len(batch), window * 4
    return chosen


def band_positions(n: int, band: tuple[int, int] | None) -> range:
    """Positions of a pool of n whose percentile 100 * i / n lies in [lo, hi)."""
    if band is None:
        return range(0, n)
    lo, hi = band
    start = -(-lo * n // 100)  # ceil(lo * n / 100)
    stop = -(-hi * n // 100)
    return range(start, max(start, stop))


def _visit_order(n: int, band: tuple[int, int] | None, limit: int) -> list[int]:
    """Evenly spread band positions, then the rest of the band, then outward from it."""
    inside = band_positions(n, band)
    m = len(inside)
    spread = (
        [inside[j * m // limit] for j in range(limit)] if band is not None and m > limit else []
    )
    seen = set(spread)
    order = spread + [p for p in inside if p not in seen]
    below = list(range(inside.start - 1, -1, -1))  # towards the mainstream
    above = list(range(inside.stop, n))  # towards the fringe
    for i in range(max(len(below), len(above))):
        order += [p[i] for p in (above, below) if i < len(p)]
    return order


def _pick(
    profile: NicheProfile,
    scores: Scores,
    row: int,
    position: int,
    pool_size: int,
    mentions: int,
    top: float,
    *,
    citations: int | None = None,
    order: str = "relevance",
    scope: str = "",
) -> Pick:
    present = set(scores.vectors[row].indices.tolist())
    matched = tuple(p for p, ph in scores.phrases.items() if ph.own and present.issuperset(ph.own))
    percentile = 100.0 * position / pool_size
    reasons = []
    if matched:
        reasons.append("matches " + ", ".join(f'"{m}"' for m in matched))
    partial = sorted(  # the user's own words, never stems
        {
            ph.word_names[c]
            for p, ph in scores.phrases.items()
            if p not in matched
            for c in ph.words
            if c in present and c in ph.word_names
        }
    )
    if partial:
        reasons.append("mentions " + ", ".join(f'"{w}"' for w in partial))
    if scores.seed_similarity is not None and profile.seeds:
        sim = float(scores.seed_similarity[row])
        if sim >= 0.1 or not matched:
            reasons.append(f"similar to the seed papers (cosine {sim:.2f})")
    if order == "relevance":
        reasons.append(f"percentile {percentile:.0f} of a {pool_size}-paper pool")
        if citations is not None:
            reasons.append(f"cited {_times(citations)}")
    else:
        what = f"{scope} papers" if scope else "papers"
        standing = f"percentile {percentile:.0f} of {pool_size} {what} on this niche"
        if order == "citations":
            cited = f"cited {_times(citations)}" if citations is not None else "citations unknown"
            reasons.append(f"{cited}, {standing}")
        else:
            reasons.append(standing)
    if mentions:
        reasons.append(f"discussed by {mentions} {'person' if mentions == 1 else 'people'}")
    return Pick(
        paper_id=scores.ids[row],
        score=round(float(scores.relevance[row] / top), 4) if top > 0 else 0.0,
        percentile=round(percentile, 1),
        reasons=tuple(reasons),
        matched_terms=matched,
        mentions=mentions,
        citations=citations,
    )


def _times(n: int | None) -> str:
    return "once" if n == 1 else f"{n} times"
