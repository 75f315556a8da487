"""The ranker's boundary: a niche profile in, picks with reasons out."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class NicheProfile:
    name: str
    keywords: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    seeds: tuple[str, ...] = ()  # version-less arXiv ids
    band: tuple[int, int] | None = (15, 40)  # None means the plain top
    saved: tuple[str, ...] = ()  # feedback: ids the user saved or read
    skipped: tuple[str, ...] = ()  # feedback: ids the user skipped


@dataclass(frozen=True, slots=True)
class Pick:
    paper_id: str
    score: float  # relevance to the niche, 0..1
    percentile: float  # where it sits in the on-niche pool, 0 = most mainstream
    reasons: tuple[str, ...] = ()  # human-readable: matched terms, percentile, mentions
    matched_terms: tuple[str, ...] = field(default=())
    mentions: int = 0
    citations: int | None = None  # citation count when known (the largest any source gives)


@dataclass(frozen=True, slots=True)
class Ranking:
    """What one ranking produced: the picks and the pool they came from."""

    picks: tuple[Pick, ...]
    pool_size: int
    candidates: int  # papers considered before the pool was formed
    notes: tuple[str, ...] = ()  # what the user may want to fix: unknown keywords, missing seeds
