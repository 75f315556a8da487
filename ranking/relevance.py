"""Relevance of every paper to a niche: keyword phrases, the niche's core, seeds, feedback.

The blend, per paper (each part scaled to [0, 1] over the candidates; knobs in `Weights`):

    relevance = keywords + expansion * core + categories * home
    relevance = max(relevance, (1 + expansion) * seeds)                (with seed papers)
    relevance = (1 - feedback) * relevance + feedback * feedback_score  (with enough feedback)

- keywords: per phrase, the paper's tf-idf weight on the phrase's own feature (the word, or every
  bigram along a multi-word phrase) plus a smaller weight on its separate words, divided by the
  typical (`saturation` quantile) match of that phrase and capped at 1; averaged over phrases.
  Repeating one phrase cannot beat covering several of the niche's phrases.
- core: cosine to the centroid of the `expansion_docs` best keyword matches (pseudo-relevance
  feedback). It brings in the niche's own vocabulary that the user did not type, which keeps the
  deeper part of the pool, where the band lives, on-niche.
- home: how over-represented the paper's arXiv categories are among those best matches
  (`_home_categories`). Papers without categories get 0 here, nothing worse.
- seeds: cosine to the centroid of the seed papers; the closest counts like a perfect keyword
  match, so a seed pulls in papers that share none of the keywords.
- exclusions drop a paper outright.
Only papers that match a keyword (or resemble a seed) are candidates: the other signals order
the niche, they never bring in papers from elsewhere.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ranking.index import TfidfIndex
from ranking.models import NicheProfile

log = logging.getLogger(__name__)



@dataclass(frozen=True, slots=True)
class Weights:
    """The blend's knobs. Defaults were chosen on the development niches (bench/quality.py)."""

    words: float = 0.25  # shared by a multi-word phrase's separate words (its own feature: 1)
    saturation: float = 0.75  # quantile of a phrase's matches that counts as a full match
    expansion: float = 1.0
    expansion_docs: int = 10  # best keyword matches that define the niche's core
    categories: float = 0.5  # 0 ranks on text alone
    seed_floor: float = 0.15  # cosine to the seeds that makes a paper a candidate without keywords
    feedback: float = 0.3


DEFAULT = Weights()


@dataclass(frozen=True, slots=True)
class Scores:
    relevance: np.ndarray  # per row; 0 for rows that are not candidates
    candidates: np.ndarray  # row indices with relevance > 0
    keyword_columns: dict[str, list[int]]  # phrase -> its own feature columns (empty: unknown)
    seed_similarity: np.ndarray | None
    unknown_keywords: tuple[str, ...]
    missing_seeds: tuple[str, ...]


def score(
    index: TfidfIndex, profile: NicheProfile, rows: np.ndarray | None = None, weights: Weights = DEFAULT
) -> Scores:
    """Relevance of the given rows (default all) to the profile; other rows score 0."""
    x = index.matrix
    n = x.shape[0]
    allowed = np.zeros(n, dtype=bool)
    allowed[np.arange(n) if rows is None else rows] = True

    keyword_columns: dict[str, list[int]] = {}
    unknown = []
    keyword = np.zeros(n)
    for phrase in profile.keywords:
        own = index.columns_of(phrase)
        keyword_columns[phrase] = own
        if not own:
            unknown.append(phrase)
            continue
        query = np.zeros(index.n_features, dtype=np.float32)
        query[own] = 1.0 / len(own)
        words = index.term_columns(phrase)
        if len(words) > 1:
            query[words] += weights.words / len(words)
        keyword += _saturated(np.asarray(x @ query).ravel(), allowed, weights.saturation)
    keyword /= max(len(profile.keywords), 1)

    for phrase in profile.exclude:
        cols = index.columns_of(phrase)
        if cols:
            allowed &= ~_has_all(x, cols)

    seed_rows = np.array([index.row_of[s] for s in profile.seeds if s in index.row_of], dtype=np.int64)
    missing = tuple(s for s in profile.seeds if s not in index.row_of)
    seed_sim = _similarity(x, seed_rows) if len(seed_rows) else None

    is_candidate = allowed & (keyword > 0)
    if seed_sim is not None:
        is_candidate |= allowed & (seed_sim >= weights.seed_floor)
        is_candidate[seed_rows] = False  # the user has them already
    relevance = keyword.copy()
    if is_candidate.any() and keyword.max() > 0:
        best = _top(keyword, is_candidate, weights.expansion_docs)
        relevance += weights.expansion * _scaled(_similarity(x, best), is_candidate)
        relevance += weights.categories * _scaled(_home_categories(index, best), is_candidate)
    if seed_sim is not None:
        relevance = np.maximum(relevance, (1 + weights.expansion) * _scaled(seed_sim, is_candidate))
    fb = _feedback(index, profile)
    if fb is not None:
        relevance = (1 - weights.feedback) * _scaled(relevance, is_candidate) + weights.feedback * fb
    relevance = np.where(is_candidate, relevance, 0.0)
    return Scores(
        relevance=relevance,
        candidates=np.flatnonzero(relevance > 0),
        keyword_columns=keyword_columns,
        seed_similarity=seed_sim,
        unknown_keywords=tuple(unknown),
        missing_seeds=missing,
    )


def _home_categories(index: TfidfIndex, best: np.ndarray) -> np.ndarray:
    """Per paper, how much its categories are the niche's home: over-represented among `best`.

    A category's weight is share * log(share / prior) (its contribution to the KL divergence of
    the best matches' categories from the corpus's), so a category every paper has (cs.LG) or
    none of the best have counts for nothing.
    """
    tags = index.tag_matrix
    if tags.shape[1] == 0 or not len(best):
        return np.zeros(tags.shape[0])
    prior = np.asarray(tags.mean(axis=0)).ravel()
    share = np.asarray(tags[best].mean(axis=0)).ravel()
    weight = np.clip(share * np.log((share + 1e-3) / (prior + 1e-3)), 0.0, None)
    return np.asarray(tags @ weight).ravel()


def _feedback(index: TfidfIndex, profile: NicheProfile) -> np.ndarray | None:
    """Scores in [0, 1] from saved/skipped papers, when ranking.feedback exists and has enough."""
    if not (profile.saved or profile.skipped):
        return None
    try:
        module = importlib.import_module("ranking.feedback")
    except ModuleNotFoundError:
        return None
    saved = [index.row_of[p] for p in profile.saved if p in index.row_of]
    skipped = [index.row_of[p] for p in profile.skipped if p in index.row_of]
    found = module.feedback_scores(index.matrix, saved, skipped)
    return None if found is None else np.clip(np.asarray(found, dtype=np.float64), 0.0, 1.0)


def _similarity(x: sp.csr_matrix, rows: Sequence[int] | np.ndarray) -> np.ndarray:
    """Cosine of every row to the centroid of `rows`."""
    centroid = np.asarray(x[rows].mean(axis=0)).ravel()
    norm = np.linalg.norm(centroid)
    if norm == 0:
        return np.zeros(x.shape[0])
    return np.asarray(x @ (centroid / norm)).ravel()


def _saturated(values: np.ndarray, mask: np.ndarray, quantile: float) -> np.ndarray:
    """values / their `quantile` quantile among matching papers, capped at 1.

    A typical match of one phrase counts 1 and repeating it cannot count more, so covering
    several of the niche's phrases is what raises a paper.
    """
    matching = values[mask & (values > 0)]
    if not len(matching):
        return np.zeros_like(values)
    return np.minimum(values / np.quantile(matching, quantile), 1.0)


def _scaled(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """values / their maximum over mask, clipped at 0; zeros when nothing is positive."""
    values = np.asarray(values, dtype=np.float64).ravel()
    top = values[mask].max() if mask.any() else 0.0
    if top <= 0:
        return np.zeros_like(values)
    return np.clip(values / top, 0.0, None)


def _top(values: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
    rows = np.flatnonzero(mask & (values > 0))
    if len(rows) > k:
        rows = rows[np.argsort(-values[rows], kind="stable")[:k]]
    return rows


def _has_all(x: sp.csr_matrix, cols: list[int]) -> np.ndarray:
    present = np.ones(x.shape[0], dtype=bool)
    for c in cols:
        present &= np.asarray(x[:, c].toarray()).ravel() > 0
    return present
