"""Pure ranking: corpus + niche in, ordered picks with reasons out. Never imports bot/.

index = build(ids, docs, dates)        # or TfidfIndex.load(dir), then index.add(...)
ranking = rank(index, profile, limit=7, mentions={...}, since=epoch_seconds)
ranking = rank(index, profile, order="citations", popularity={id: count}, ids={...})
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np

from ranking.band import pool, select
from ranking.build import build
from ranking.index import TfidfIndex
from ranking.models import NicheProfile, Pick, Ranking
from ranking.relevance import DEFAULT, Weights, score

__all__ = [
    "NicheProfile",
    "Pick",
    "Ranking",
    "TfidfIndex",
    "Weights",
    "build",
    "pool_ids",
    "rank",
]


def rank(
    index: TfidfIndex,
    profile: NicheProfile,
    *,
    limit: int = 10,
    mentions: Mapping[str, int] | None = None,
    since: int | None = None,
    exclude_ids: Collection[str] = (),
    weights: Weights = DEFAULT,
    ids: Collection[str] | None = None,
    order: str = "relevance",
    popularity: Mapping[str, int] | None = None,
    scope: str = "",
) -> Ranking:
    """The niche's band picks among the index's papers: those dated at or after `since`, and
    only those in `ids` when it is given (e.g. the papers that arrived since the last digest).
    `order`, `popularity` (citation counts) and `scope` (a label for the reasons) go to
    `band.select`."""
    if len(index) == 0:
        return Ranking(picks=(), pool_size=0, candidates=0)
    rows = None if since is None else index.rows_since(since)
    if ids is not None:
        chosen = np.array(sorted(index.rows_of(ids).values()), dtype=np.int64)
        rows = chosen if rows is None else np.intersect1d(rows, chosen)
    scores = score(index, profile, rows, weights)
    ranking = select(
        index,
        profile,
        scores,
        limit=limit,
        mentions=mentions,
        exclude_ids=exclude_ids,
        order=order,
        popularity=popularity,
        scope=scope,
    )
    notes = tuple(f'no paper uses "{k}"' for k in scores.unknown_keywords) + tuple(
        f"seed {s} is not in the corpus" for s in scores.missing_seeds
    )
    return Ranking(ranking.picks, ranking.pool_size, ranking.candidates, notes)


def pool_ids(
    index: TfidfIndex,
    profile: NicheProfile,
    *,
    ids: Collection[str] | None = None,
    weights: Weights = DEFAULT,
) -> list[str]:
    """The niche's whole on-niche pool (among `ids` when given), most relevant first: the papers
    whose popularity decides a citation-ordered band."""
    if len(index) == 0:
        return []
    rows = None
    if ids is not None:
        rows = np.array(sorted(index.rows_of(ids).values()), dtype=np.int64)
    scores = score(index, profile, rows, weights)
    return [scores.ids[p] for p in pool(scores)]
