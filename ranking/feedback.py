"""Learn a niche from what its user saved and skipped: a per-niche linear model over TF-IDF rows.

This is arxiv-sanity's SVM idea with one change: arxiv-sanity treats every unlabelled paper as a
negative, while midlist has explicit negatives (skips), which say far more about where the niche
ends. Until a user has skipped a few papers, random unlabelled rows stand in as *weak* negatives
(down-weighted), because a model with one class cannot rank anything.

Scores are anchored at the typical paper: the median row of the corpus scores 0, the most
saved-like row 1, and anything less saved-like than the median is clipped to 0. Blended into
relevance, feedback therefore only lifts papers that look like what the user kept; it adds no
common offset that would loosen a relative pool threshold (plain min-max scaling did, and made
the simulated band worse, see bench/feedback_sim.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

log = logging.getLogger(__name__)

MIN_LABELS = 3  # below this many saved *and* skipped, feedback is noise: return None
WEAK_NEGATIVES = 20  # unlabelled rows sampled as negatives when fewer than MIN_LABELS skips
WEAK_WEIGHT = 0.3  # a random paper is probably off-niche, not certainly


def feedback_scores(
    X: Any,
    saved_rows: Sequence[int],
    skipped_rows: Sequence[int],
    *,
    tags: Any = None,
    C: float = 0.1,
    seed: int = 0,
    background: Sequence[int] | None = None,
) -> np.ndarray | None:
    """Scores in [0, 1] for every row of X (sparse or dense, one row per paper; 0 for the median
    row and below, 1 for the most saved-like), or None when there is not enough feedback (fewer
    than 3 saved and fewer than 3 skipped, or nothing saved).

    `tags` (optional, one row per paper, e.g. its arXiv categories as 0/1 columns) are appended
    to X with rows l2-normalised, so the model can also learn "keeps cs.RO papers" whatever their
    wording. A row both saved and skipped counts as saved: the later, positive signal is the one
    a user acts on. Deterministic for a given `seed`.

    `background` (optional) are the rows that stand for the whole corpus when X holds only part
    of it: weak negatives are drawn from them and the median is taken over them.
    """
    n_rows = X.shape[0]
    if tags is not None:
        if tags.shape[0] != n_rows:
            raise ValueError(
                f"tags has {tags.shape[0]} rows, X has {n_rows}; they must describe the same papers"
            )
        if tags.shape[1]:
            X = sp.hstack(
                [sp.csr_matrix(X), normalize(sp.csr_matrix(tags, dtype=np.float64))], format="csr"
            )
    saved = _rows(saved_rows, n_rows, "saved_rows")
    skipped = _rows(skipped_rows, n_rows, "skipped_rows") - saved
    if not saved or (len(saved) < MIN_LABELS and len(skipped) < MIN_LABELS):
        return None

    pos = sorted(saved)
    neg = sorted(skipped)
    weights = [1.0] * (len(pos) + len(neg))
    if len(neg) < MIN_LABELS:
        pool = np.arange(n_rows) if background is None else np.asarray(background, dtype=int)
        unlabelled = np.setdiff1d(pool, np.array(pos + neg, dtype=int))
        take = min(len(unlabelled), max(WEAK_NEGATIVES, 2 * len(pos)))
        if take == 0 and not neg:
            return None
        weak = np.random.default_rng(seed).choice(unlabelled, size=take, replace=False)
        neg += sorted(int(r) for r in weak)
        weights += [WEAK_WEIGHT] * take
        log.debug("feedback: %d skips, adding %d random rows as weak negatives", len(skipped), take)

    rows = np.array(pos + neg, dtype=int)
    y = np.array([1] * len(pos) + [0] * (len(rows) - len(pos)))
    model = LogisticRegression(C=C, class_weight="balanced", solver="liblinear", random_state=seed)
    model.fit(X[rows], y, sample_weight=np.array(weights))
    raw = np.asarray(model.decision_function(X), dtype=float)
    reference = raw if background is None or not len(background) else raw[list(background)]
    typical, high = float(np.median(reference)), float(raw.max())
    if high - typical < 1e-12:
        return np.zeros(n_rows)
    return np.clip((raw - typical) / (high - typical), 0.0, 1.0)


def _rows(rows: Sequence[int], n_rows: int, name: str) -> set[int]:
    out = set()
    for r in rows:
        i = int(r)
        if not 0 <= i < n_rows:
            raise ValueError(f"{name}: row {i} is outside the matrix (0..{n_rows - 1})")
        out.add(i)
    return out
