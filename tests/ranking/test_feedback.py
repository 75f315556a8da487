"""Feedback moves saved-like papers up and skipped-like papers down, and stays quiet without enough of it."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from ranking.feedback import feedback_scores

ROBOT = [
    "robot grasping with a soft gripper and tactile sensing",
    "legged robot locomotion over rough terrain",
    "motion planning for a mobile manipulator robot arm",
    "sim-to-real transfer of grasping policies for robot hands",
    "tactile sensing improves robot manipulation of deformable objects",
    "quadruped locomotion learned in simulation",
    "trajectory optimisation for robot arms under contact",
    "gripper design for picking cluttered objects",
]
LANGUAGE = [
    "large language models answer questions about documents",
    "prompting language models for arithmetic reasoning",
    "machine translation with transformer language models",
    "instruction tuning of language models for dialogue",
    "language model evaluation on reading comprehension benchmarks",
    "tokenisation choices change language model perplexity",
    "retrieval augmented language models cite their documents",
    "dialogue agents built from instruction tuned language models",
]
# Both kinds mention "learning" and "model": the keyword profile alone cannot tell them apart.
DOCS = [f"{d} learning model" for d in ROBOT + LANGUAGE]
X = TfidfVectorizer().fit_transform(DOCS)
R = range(len(ROBOT))
L = range(len(ROBOT), len(DOCS))


def test_saved_and_skipped_move_similar_unlabelled_papers() -> None:
    scores = feedback_scores(X, saved_rows=[0, 1, 2], skipped_rows=[8, 9, 10])
    assert scores is not None
    assert scores.shape == (len(DOCS),) and scores.min() >= 0.0 and scores.max() <= 1.0
    unlabelled_robot = [scores[i] for i in R if i > 2]
    unlabelled_language = [scores[i] for i in L if i > 10]
    assert min(unlabelled_robot) > max(unlabelled_language)


def test_scores_are_anchored_at_the_typical_paper() -> None:
    """The median paper gets no lift, so blending adds no common offset to every candidate."""
    scores = feedback_scores(X, saved_rows=[0, 1, 2], skipped_rows=[8, 9, 10])
    assert scores is not None
    assert scores.max() == 1.0
    assert (scores == 0).sum() >= len(DOCS) // 2


def test_the_opposite_feedback_flips_the_order() -> None:
    scores = feedback_scores(X, saved_rows=[8, 9, 10], skipped_rows=[0, 1, 2])
    assert scores is not None
    assert min(scores[i] for i in L if i > 10) > max(scores[i] for i in R if i > 2)


def test_saves_alone_use_random_weak_negatives() -> None:
    scores = feedback_scores(X, saved_rows=[0, 1, 2, 3], skipped_rows=[])
    assert scores is not None
    assert np.mean([scores[i] for i in R if i > 3]) > np.mean([scores[i] for i in L])
    again = feedback_scores(X, saved_rows=[3, 2, 1, 0], skipped_rows=[])
    assert again is not None and np.array_equal(scores, again)


@pytest.mark.parametrize(
    "saved, skipped",
    [([], []), ([0, 1], [8, 9]), ([], [8, 9, 10, 11]), ([0, 0, 0], [8])],
)
def test_not_enough_feedback_gives_none(saved: list[int], skipped: list[int]) -> None:
    assert feedback_scores(X, saved, skipped) is None


def test_a_row_both_saved_and_skipped_counts_as_saved() -> None:
    scores = feedback_scores(X, saved_rows=[0, 1, 2], skipped_rows=[2, 8, 9, 10])
    assert scores is not None
    assert scores[2] > np.median(scores)


def test_tags_let_the_model_learn_what_the_words_do_not_say() -> None:
    """Two papers per topic carry tag 0, the rest tag 1; the user saves tag-0 papers only."""
    tags = np.zeros((len(DOCS), 2))
    tagged = [0, 1, 2, 3, 8, 9, 10, 11]
    tags[tagged, 0] = 1
    tags[[i for i in range(len(DOCS)) if i not in tagged], 1] = 1
    saved, skipped = [0, 8, 1], [4, 12, 5]
    plain = feedback_scores(X, saved, skipped)
    with_tags = feedback_scores(X, saved, skipped, tags=tags)
    assert plain is not None and with_tags is not None
    unseen_tagged, unseen_other = [2, 3, 9, 10, 11], [6, 7, 13, 14, 15]
    assert min(with_tags[unseen_tagged]) > max(with_tags[unseen_other])
    assert not min(plain[unseen_tagged]) > max(plain[unseen_other])


def test_tags_must_match_the_rows() -> None:
    with pytest.raises(ValueError, match="tags has 3 rows, X has 16"):
        feedback_scores(X, [0, 1, 2], [8, 9, 10], tags=np.ones((3, 1)))


def test_row_outside_the_matrix_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"skipped_rows: row 99 is outside the matrix \(0\.\.15\)"):
        feedback_scores(X, [0, 1, 2], [99])
