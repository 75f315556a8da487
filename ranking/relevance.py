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
import numpy.typing as npt

from ranking.index import Phrase, TfidfIndex
from ranking.models import NicheProfile
from ranking.rows import Rows
from ranking.rows import centroid as _centroid

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Weights:
    """The blend's knobs. Defaults were chosen on the development niches (bench/quality.py) and
    checked on a second set (bench/more_niches.yaml)."""

    words: float = 0.25  # shared by a multi-word phrase's separate words (its own feature: 1)
    saturation: float = 0.75  # quantile of a phrase's matches that counts as a full match
    expansion: float = 1.0
    expansion_docs: int = 10  # best keyword matches that define the niche's core
    categories: float = 0.75  # 0 ranks on text alone
    seed_floor: float = 0.15  # cosine to the seeds that makes a paper a candidate without keywords
    feedback: float = 0.5


DEFAULT = Weights()
SEED_FEATURES = 30  # a seed centroid's strongest features whose papers may resemble the seeds
BACKGROUND = 200  # corpus sample that feedback learns "typical" from


@dataclass(frozen=True, slots=True)
class Scores:
    """Candidates only: every array is aligned with `rows` (global rows, relevance > 0)."""

    rows: npt.NDArray[np.int64]
    relevance: npt.NDArray[np.float64]
    ids: list[str]
    vectors: Rows  # their l2-normalised tf-idf rows
    phrases: dict[str, Phrase]  # keyword phrase -> its columns
    seed_similarity: npt.NDArray[np.float64] | None
    unknown_keywords: tuple[str, ...]
    missing_seeds: tuple[str, ...]

    @property
    def candidates(self) -> npt.NDArray[np.int64]:
        return self.rows


def score(
    index: TfidfIndex,
    profile: NicheProfile,
    rows: npt.NDArray[np.int64] | None = None,
    weights: Weights = DEFAULT,
) -> Scores:
    """Relevance of the papers that match the profile, among `rows` (default: all).

    Candidates come from the postings of the phrases' own features (and, with seeds, of the
    seeds' strongest features); every other signal is computed on the candidates' rows only,
    so a query reads a niche's papers, not the whole index.
    """
    phrases = {p: index.phrase(p) for p in profile.keywords}
    known = [p for p in profile.keywords if phrases[p].own]
    found = [index.postings(c) for p in known for c in phrases[p].own]
    seed_rows = np.array(sorted(index.rows_of(profile.seeds).values()), dtype=np.int64)
    missing = tuple(s for s in profile.seeds if s not in index.rows_of(profile.seeds))
    centroid = _centroid(index.row_vectors(seed_rows)) if len(seed_rows) else None
    if centroid is not None:
        strongest = np.argsort(-centroid.data, kind="stable")[:SEED_FEATURES]
        found += [index.postings(int(c)) for c in centroid.indices[strongest]]
    cand = np.unique(np.concatenate(found)) if found else np.zeros(0, np.int64)
    if rows is not None:
        cand = np.intersect1d(cand, rows)
    cand = np.setdiff1d(cand, seed_rows)  # the user has them already
    x = index.row_vectors(cand)
    allowed = np.ones(len(cand), dtype=bool)
    for phrase in profile.exclude:
        cols = index.phrase(phrase).own
        if cols:
            allowed &= ~(x.columns(cols) > 0).all(axis=1)

    keyword = np.zeros(len(cand))
    has_phrase = np.zeros(len(cand), dtype=bool)
    for phrase in known:
        own, words = phrases[phrase].own, phrases[phrase].words
        own_match = x.columns(own).sum(axis=1) / len(own)
        value = own_match.copy()
        if len(words) > 1:
            value += weights.words * x.columns(words).sum(axis=1) / len(words)
        keyword += _saturated(value, allowed, weights.saturation)
        has_phrase |= own_match > 0
    keyword /= max(len(profile.keywords), 1)

    seed_sim = None
    if centroid is not None:
        seed_sim = x.dot_row(centroid)
    is_candidate = allowed & has_phrase
    if seed_sim is not None:
        is_candidate |= allowed & (seed_sim >= weights.seed_floor)
    ids = index.ids_of(cand)
    relevance = keyword.copy()
    ic = np.flatnonzero(is_candidate)
    if len(ic) and keyword[ic].max() > 0:
        best = _top(keyword, is_candidate, weights.expansion_docs, ids)
        core = _centroid(x[best])
        relevance[ic] += weights.expansion * _scaled(x[ic].dot_row(core))
        home = _home_categories(index, cand[best], cand[ic])
        relevance[ic] += weights.categories * _scaled(home)
    if seed_sim is not None and len(ic):
        relevance[ic] = np.maximum(relevance[ic], (1 + weights.expansion) * _scaled(seed_sim[ic]))
    fb = _feedback(index, profile, cand[ic], [ids[i] for i in ic])
    if fb is not None and len(ic):
        relevance[ic] = (1 - weights.feedback) * _scaled(relevance[ic]) + weights.feedback * fb
    # Rounded so that float noise from summing a row in another column order cannot reorder
    # ties: the same store ranks the same whatever history built its index.
    relevance = np.round(np.where(is_candidate, relevance, 0.0), 9).astype(np.float64)
    keep = relevance > 0
    kept = np.flatnonzero(keep)
    return Scores(
        rows=cand[keep],
        relevance=relevance[keep],
        ids=[ids[i] for i in kept],
        vectors=x[kept],
        phrases=phrases,
        seed_similarity=None if seed_sim is None else seed_sim[keep],
        unknown_keywords=tuple(p for p in profile.keywords if not phrases[p].own),
        missing_seeds=missing,
    )


def _home_categories(
    index: TfidfIndex, best: npt.NDArray[np.int64], rows: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Per paper, how much its categories are the niche's home: over-represented among `best`.

    A category's weight is share * log(share / prior) (its contribution to the KL divergence of
    the best matches' categories from the corpus's), so a category every paper has (cs.LG) or
    none of the best have counts for nothing.
    """
    if not index.tags or not len(best):
        return np.zeros(len(rows))
    prior = index.tag_prior
    share = index.tag_matrix(best).column_means()
    weight = np.clip(share * np.log((share + 1e-3) / (prior + 1e-3)), 0.0, None)
    return index.tag_matrix(rows).dot_dense(weight)


def _feedback(
    index: TfidfIndex, profile: NicheProfile, cand: npt.NDArray[np.int64], ids: list[str]
) -> npt.NDArray[np.float64] | None:
    """Scores in [0, 1] for the candidates from saved/skipped papers, when there are enough.

    The model sees the candidates, the labelled papers and a background sample of the corpus
    chosen by id hash (weak negatives, and the "typical paper" the scores are anchored at), in
    id order: what it learns depends on the store, not on the index's row order.
    """
    if not (profile.saved or profile.skipped):
        return None
    try:
        module = importlib.import_module("ranking.feedback")
    except ModuleNotFoundError:
        return None
    labelled = index.rows_of([*profile.saved, *profile.skipped])
    background = index.sample(BACKGROUND, exclude=list(labelled.values()))
    rows = np.unique(
        np.concatenate([cand, background, np.array(list(labelled.values()), np.int64)])
    )
    row_ids = index.ids_of(rows)
    order = np.argsort(np.array(row_ids, dtype=str), kind="stable")
    rows = rows[order]
    position = {row_ids[i]: j for j, i in enumerate(order.tolist())}
    saved = [position[p] for p in profile.saved if p in labelled]
    skipped = [position[p] for p in profile.skipped if p in labelled]
    back = sorted(position[i] for i in index.ids_of(background))
    found = module.feedback_scores(
        index.vectors(rows), saved, skipped, tags=index.tag_rows(rows), background=back
    )
    if found is None:
        return None
    scores = np.clip(np.asarray(found, dtype=np.float64), 0.0, 1.0)
    return np.array([scores[position[i]] for i in ids], dtype=np.float64)


def _saturated(values: np.ndarray, mask: np.ndarray, quantile: float) -> np.ndarray:
    """values / their `quantile` quantile among matching papers, capped at 1.

    A typical match of one phrase counts 1 and repeating it cannot count more, so covering
    several of the niche's phrases is what raises a paper.
    """
    matching = values[mask & (values > 0)]
    if not len(matching):
        return np.zeros_like(values)
    saturated: np.ndarray = np.minimum(values / np.quantile(matching, quantile), 1.0)
    return saturated


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
    names = np.array([ids[r] for r in rows.tolist()])
    best: np.ndarray = rows[np.lexsort((names, -values[rows]))[:k]]
    return best
