"""What the ranker saw for one niche: the pool in mainstream order, the band, what each keyword,
exclusion and seed did. Pure and read-only, for `midlist tune` to draw.

Everything here comes from the ranker's own public steps (`relevance.score`, `band.pool`,
`band.select`, `band.band_positions`), so the picks shown are the picks a digest would send.
A paper "uses" a keyword when it holds one of the phrase's own features (the word, or a bigram
along the phrase): that is what makes a paper a candidate. What an exclusion removed and what
the seeds added are measured by scoring the niche again without them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from ranking.band import MENTION_BOOST, band_positions, pool, select
from ranking.index import TfidfIndex
from ranking.models import NicheProfile, Pick
from ranking.relevance import DEFAULT, Scores, Weights, score

__all__ = [
    "ExclusionEffect",
    "Explanation",
    "KeywordEffect",
    "SeedEffect",
    "explain",
    "mainstream_order",
]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class KeywordEffect:
    phrase: str
    known: bool  # some paper in the corpus uses it
    candidates: int  # candidates using it (papers it brings into the niche, with the others)
    pool: int  # pool papers using it
    alone: int  # pool papers using it and no other keyword
    picks: int  # picks using it

    @property
    def shared(self) -> int:
        """Pool papers using it together with at least one other keyword."""
        return self.pool - self.alone


@dataclass(frozen=True, slots=True)
class ExclusionEffect:
    phrase: str
    known: bool
    removed: int  # candidates it dropped (they use the excluded phrase)
    removed_from_pool: int  # of those, papers that would have been in the pool


@dataclass(frozen=True, slots=True)
class SeedEffect:
    seeds: tuple[str, ...]  # the seeds found in the corpus
    missing: tuple[str, ...]  # seeds the corpus does not hold
    added: tuple[str, ...]  # pool papers that are there only because of the seeds, by position


@dataclass(frozen=True, slots=True)
class Explanation:
    """The pool from most to least mainstream (position 0 is the obvious top)."""

    ids: tuple[str, ...]  # pool papers in mainstream order
    relevance: Floats  # per position, scaled so the pool's best is 1
    mainstream: Floats  # per position: relevance raised by mentions (the ordering key)
    mentions: Ints  # per position
    uses: Bools  # positions x keywords: the paper uses the keyword
    band: range  # positions inside the band (all of them for `band=None`)
    picks: tuple[Pick, ...]  # what a digest would send, in pool order
    pick_positions: tuple[int, ...]
    candidates: int
    keywords: tuple[KeywordEffect, ...]
    exclusions: tuple[ExclusionEffect, ...]
    seeds: SeedEffect

    @property
    def size(self) -> int:
        return len(self.ids)

    def percentile(self, position: int) -> float:
        return 100.0 * position / self.size if self.size else 0.0


def mainstream_order(
    ids: list[str] | tuple[str, ...],
    relevance: Floats,
    mentions: Ints,
) -> Ints:
    """Positions sorted most mainstream first: relevance raised by mentions, ties on the id.

    The same key `ranking.band.select` orders the pool by; a test holds the two together."""
    key = relevance * (1 + MENTION_BOOST * np.log2(1 + mentions.astype(np.float64)))
    return np.lexsort((np.array(ids, dtype=str), -key)).astype(np.int64)


def explain(
    index: TfidfIndex,
    profile: NicheProfile,
    *,
    limit: int,
    mentions: Mapping[str, int] | None = None,
    rows: Ints | None = None,
    exclude_ids: tuple[str, ...] = (),
    weights: Weights = DEFAULT,
) -> Explanation:
    """Score the niche, form its pool and band, pick as a digest would, and say why."""
    mentions = mentions or {}
    scores = score(index, profile, rows, weights)
    members = pool(scores)  # positions in `scores`
    ids = [scores.ids[p] for p in members]
    counts = np.array([mentions.get(i, 0) for i in ids], dtype=np.int64)
    order = mainstream_order(ids, scores.relevance[members], counts)
    members, counts = members[order], counts[order]
    ids = [ids[i] for i in order]
    rel = np.asarray(scores.relevance[members], dtype=np.float64)
    top = float(rel.max()) if len(rel) else 0.0
    mainstream = rel * (1 + MENTION_BOOST * np.log2(1 + counts.astype(np.float64)))

    ranking = select(
        index, profile, scores, limit=limit, mentions=mentions, exclude_ids=exclude_ids
    )
    at = {paper: p for p, paper in enumerate(ids)}
    picks = tuple(sorted(ranking.picks, key=lambda pick: at[pick.paper_id]))
    positions = tuple(at[p.paper_id] for p in picks)

    uses = _uses(scores, members, profile.keywords)
    cand_uses = _uses(scores, np.arange(len(scores.rows)), profile.keywords)
    picked = np.zeros(len(ids), dtype=bool)
    picked[list(positions)] = True
    others = uses.sum(axis=1)
    keywords = tuple(
        KeywordEffect(
            phrase=phrase,
            known=bool(scores.phrases[phrase].own),
            candidates=int(cand_uses[:, j].sum()),
            pool=int(uses[:, j].sum()),
            alone=int((uses[:, j] & (others == 1)).sum()),
            picks=int((uses[:, j] & picked).sum()),
        )
        for j, phrase in enumerate(profile.keywords)
    )
    return Explanation(
        ids=tuple(ids),
        relevance=rel / top if top > 0 else rel,
        mainstream=mainstream / mainstream.max() if len(mainstream) and top > 0 else mainstream,
        mentions=counts,
        uses=uses,
        band=band_positions(len(ids), profile.band),
        picks=picks,
        pick_positions=positions,
        candidates=len(scores.candidates),
        keywords=keywords,
        exclusions=_exclusions(index, profile, scores, rows, weights),
        seeds=_seeds(index, profile, scores, ids, rows, weights),
    )


def _uses(scores: Scores, positions: npt.NDArray[np.integer], keywords: tuple[str, ...]) -> Bools:
    """positions x keywords: whether each paper holds one of the keyword's own features."""
    out = np.zeros((len(positions), len(keywords)), dtype=bool)
    if not len(positions):
        return out
    block = scores.vectors[positions]
    for j, phrase in enumerate(keywords):
        found = scores.phrases.get(phrase)
        cols = list(found.own) if found is not None else []
        if cols:
            out[:, j] = (block.columns(cols) > 0).any(axis=1)
    return out


def _exclusions(
    index: TfidfIndex,
    profile: NicheProfile,
    scores: Scores,
    rows: Ints | None,
    weights: Weights,
) -> tuple[ExclusionEffect, ...]:
    """Per exclusion, the candidates and pool papers the niche would have without exclusions
    that use the excluded phrase (every word of it, as `relevance.score` drops them)."""
    if not profile.exclude:
        return ()
    free = score(index, replace(profile, exclude=()), rows, weights)
    free_pool = set(pool(free).tolist())
    block = free.vectors if len(free.rows) else None
    out = []
    for phrase in profile.exclude:
        cols = list(index.phrase(phrase).own)
        if not cols or block is None:
            out.append(ExclusionEffect(phrase, bool(cols), 0, 0))
            continue
        hit = (block.columns(cols) > 0).all(axis=1)
        removed = np.flatnonzero(hit)
        out.append(
            ExclusionEffect(
                phrase,
                True,
                int(len(removed)),
                sum(1 for p in removed.tolist() if p in free_pool),
            )
        )
    return tuple(out)


def _seeds(
    index: TfidfIndex,
    profile: NicheProfile,
    scores: Scores,
    members: list[str],
    rows: Ints | None,
    weights: Weights,
) -> SeedEffect:
    """The pool papers the niche holds only because of its seeds (absent without them)."""
    found = tuple(s for s in profile.seeds if s not in scores.missing_seeds)
    if not found:
        return SeedEffect((), scores.missing_seeds, ())
    plain = score(index, replace(profile, seeds=()), rows, weights)
    without = {plain.ids[p] for p in pool(plain)}
    return SeedEffect(found, scores.missing_seeds, tuple(i for i in members if i not in without))
