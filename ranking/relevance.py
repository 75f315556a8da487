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
    word_columns: dict[str, list[int]]  # phrase -> columns of its separate known words
    seed_similarity: np.ndarray | None
    unknown_keywords: tuple[str, ...]
    missing_seeds: tuple[str, ...]


def score(
    index: TfidfIndex,
    profile: NicheProfile,
    rows: np.ndarray | None = None,
    weights: Weights = DEFAULT,
) -> Scores:
    """Relevance of the given rows (default all) to the profile; other rows score 0.

    Every phrase and exclusion is one column of a dense query block, so the whole matrix is read
    once per niche; the core and home signals are then computed on the candidates only.
    """
    x = index.matrix
    n = x.shape[0]
    allowed = np.zeros(n, dtype=bool)
    allowed[np.arange(n) if rows is None else rows] = True

    keyword_columns = {p: index.columns_of(p) for p in profile.keywords}
    word_columns = {p: index.term_columns(p) for p in profile.keywords}
    known = [p for p in profile.keywords if keyword_columns[p]]
    excluded = [cols for cols in (index.columns_of(p) for p in profile.exclude) if cols]
    entries: list[tuple[int, int, float]] = []  # (feature, query column, weight)
    for j, phrase in enumerate(known):
        own, words = keyword_columns[phrase], word_columns[phrase]
        entries += [(c, 2 * j, 1.0 / len(own)) for c in own]
        if len(words) > 1:
            entries += [(c, 2 * j + 1, weights.words / len(words)) for c in words]
    k = 2 * len(known)
    for cols in excluded:
        entries += [(c, k + i, 1.0) for i, c in enumerate(cols)]
        k += len(cols)
    found = _query_block(x, entries, index.n_features, k)
    k = 2 * len(known)
    for cols in excluded:
        allowed &= ~(found[:, k : k + len(cols)] > 0).all(axis=1)
        k += len(cols)

    keyword = np.zeros(n)
    has_phrase = np.zeros(n, dtype=bool)
    for j in range(len(known)):
        keyword += _saturated(found[:, 2 * j] + found[:, 2 * j + 1], allowed, weights.saturation)
        has_phrase |= found[:, 2 * j] > 0
    keyword /= max(len(profile.keywords), 1)

    seed_rows = np.array(
        [index.row_of[s] for s in profile.seeds if s in index.row_of], dtype=np.int64
    )
    missing = tuple(s for s in profile.seeds if s not in index.row_of)
    seed_sim = _similarity(x, seed_rows) if len(seed_rows) else None

    is_candidate = allowed & has_phrase
    if seed_sim is not None:
        is_candidate |= allowed & (seed_sim >= weights.seed_floor)
        is_candidate[seed_rows] = False  # the user has them already
    cand = np.flatnonzero(is_candidate)
    relevance = keyword.copy()
    if len(cand) and keyword[cand].max() > 0:
        best = _top(keyword, is_candidate, weights.expansion_docs, index.ids)
        relevance[cand] += weights.expansion * _scaled(_similarity(x, best, cand))
        relevance[cand] += weights.categories * _scaled(_home_categories(index, best, cand))
    if seed_sim is not None and len(cand):
        relevance[cand] = np.maximum(
            relevance[cand], (1 + weights.expansion) * _scaled(seed_sim[cand])
        )
    fb = _feedback(index, profile)
    if fb is not None and len(cand):
        relevance[cand] = (1 - weights.feedback) * _scaled(relevance[cand]) + weights.feedback * fb[
            cand
        ]
    relevance = np.where(is_candidate, relevance, 0.0)
    return Scores(
        relevance=relevance,
        candidates=np.flatnonzero(relevance > 0),
        keyword_columns=keyword_columns,
        word_columns=word_columns,
        seed_similarity=seed_sim,
        unknown_keywords=tuple(p for p in profile.keywords if not keyword_columns[p]),
        missing_seeds=missing,
    )


def _query_block(
    x: sp.csr_matrix, entries: list[tuple[int, int, float]], m: int, k: int
) -> np.ndarray:
    """x @ Q for a query block Q given as (feature, column, weight) entries, as a dense n x k.

    One vectorised pass over x's column indices finds the few stored values a niche touches;
    this is several times faster than a sparse product, which also counts and allocates.
    """
    found = np.zeros((x.shape[0], k))
    if not entries:
        return found
    feats, qcols, vals = (np.array(v) for v in zip(*entries, strict=True))
    block = sp.csr_matrix((vals, (feats, qcols)), shape=(m, k))
    touched = np.zeros(m, dtype=bool)
    touched[feats] = True
    hits = np.flatnonzero(touched[x.indices])
    rows = np.searchsorted(x.indptr, hits, side="right") - 1
    cols = x.indices[hits]
    per = np.diff(block.indptr)[cols]  # query entries per hit
    starts = np.repeat(block.indptr[cols], per) + _ranges(per)
    np.add.at(
        found,
        (np.repeat(rows, per), block.indices[starts]),
        np.repeat(np.asarray(x.data[hits], dtype=np.float64), per) * block.data[starts],
    )
    return found


def _ranges(lengths: np.ndarray) -> np.ndarray:
    """0..l-1 for each l, concatenated."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.arange(total) - offsets


def _home_categories(index: TfidfIndex, best: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Per paper, how much its categories are the niche's home: over-represented among `best`.

    A category's weight is share * log(share / prior) (its contribution to the KL divergence of
    the best matches' categories from the corpus's), so a category every paper has (cs.LG) or
    none of the best have counts for nothing.
    """
    tags = index.tag_matrix
    if tags.shape[1] == 0 or not len(best):
        return np.zeros(len(rows))
    prior = index.tag_prior
    share = np.asarray(tags[best].mean(axis=0)).ravel()
    weight = np.clip(share * np.log((share + 1e-3) / (prior + 1e-3)), 0.0, None)
    return np.asarray(tags[rows] @ weight).ravel()


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
    found = module.feedback_scores(index.matrix, saved, skipped, tags=index.tag_matrix)
    return None if found is None else np.clip(np.asarray(found, dtype=np.float64), 0.0, 1.0)


def _similarity(
    x: sp.csr_matrix, rows: Sequence[int] | np.ndarray, among: np.ndarray | None = None
) -> np.ndarray:
    """Cosine of every row (or of the rows `among`) to the centroid of `rows`."""
    centroid = np.asarray(x[rows].mean(axis=0)).ravel()
    norm = np.linalg.norm(centroid)
    target = x if among is None else x[among]
    if norm == 0:
        return np.zeros(target.shape[0])
    return np.asarray(target @ (centroid / norm)).ravel()


def _saturated(values: np.ndarray, mask: np.ndarray, quantile: float) -> np.ndarray:
    """values / their `quantile` quantile among matching papers, capped at 1.

    A typical match of one phrase counts 1 and repeating it cannot count more, so covering
    several of the niche's phrases is what raises a paper.
    """
    matching = values[mask & (values > 0)]
    if not len(matching):
        return np.zeros_like(values)
    return np.minimum(values / np.quantile(matching, quantile), 1.0)


def _scaled(values: np.ndarray) -> np.ndarray:
    """values / their maximum, clipped at 0; zeros when nothing is positive."""
    values = np.asarray(values, dtype=np.float64).ravel()
    top = values.max() if len(values) else 0.0
    if top <= 0:
        return np.zeros_like(values)
    return np.clip(values / top, 0.0, None)


def _top(values: np.ndarray, mask: np.ndarray, k: int, ids: Sequence[str]) -> np.ndarray:
    """The k best rows; ties (common: saturated matches are capped at 1) break on the paper id,
    so the niche's core does not depend on the order papers were indexed in."""
    rows = np.flatnonzero(mask & (values > 0))
    if len(rows) > k:  # only the rows that can make the top k need their ids
        rows = rows[values[rows] >= np.partition(values[rows], len(rows) - k)[len(rows) - k]]
    return rows[np.lexsort((np.array([ids[r] for r in rows], dtype=str), -values[rows]))[:k]]
