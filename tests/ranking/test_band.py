"""Properties of the quirky-middle selection on a small hand-made corpus."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ranking import NicheProfile, build, rank
from ranking.band import DUPLICATE, _visit_order, band_positions
from ranking.relevance import Scores, Weights, score
from ranking.text import document
from sources.models import Paper
from tests.ranking.corpus import corpus, topic_papers

SSM = ("selective scan", "linear recurrence", "state space model")


def _index(papers: list[Paper]):  # type: ignore[no-untyped-def]
    return build([p.id for p in papers], [document(p) for p in papers], list(range(len(papers))))


@pytest.fixture(scope="module")
def index():  # type: ignore[no-untyped-def]
    return _index(corpus())


@given(st.integers(min_value=1, max_value=300))
def test_band_positions_hold_exactly_the_band_percentiles(n: int) -> None:
    inside = set(band_positions(n, (15, 40)))
    for position in range(n):
        assert (position in inside) == (15 <= 100 * position / n < 40)


@pytest.mark.parametrize("band", [(15, 40), (0, 100), (90, 100), None])
def test_every_pool_position_is_visited_once(band: tuple[int, int] | None) -> None:
    for n in range(1, 60):
        for limit in range(1, 15):
            assert sorted(_visit_order(n, band, limit)) == list(range(n)), (n, limit)


def test_band_top_is_the_whole_pool() -> None:
    assert band_positions(7, None) == range(7)


def test_picks_sit_in_the_band_when_the_pool_allows(index) -> None:  # type: ignore[no-untyped-def]
    ranking = rank(index, NicheProfile("ssm", SSM, band=(15, 40)), limit=2)
    assert len(ranking.picks) == 2
    assert all(15 <= p.percentile < 40 for p in ranking.picks)
    assert 2 <= ranking.pool_size <= 12  # at most the state space papers


def test_pool_is_the_niche_not_every_overlap(index) -> None:  # type: ignore[no-untyped-def]
    ranking = rank(index, NicheProfile("ssm", SSM, band=None), limit=40)
    assert {p.paper_id[5] for p in ranking.picks} == {"3"}  # only the state space papers


def test_top_band_starts_at_the_most_mainstream_paper(index) -> None:  # type: ignore[no-untyped-def]
    ranking = rank(index, NicheProfile("ssm", SSM, band=None), limit=3)
    assert ranking.picks[0].percentile == 0
    assert [p.percentile for p in ranking.picks] == sorted(p.percentile for p in ranking.picks)


def test_same_input_same_picks_whatever_the_order(index) -> None:  # type: ignore[no-untyped-def]
    papers = corpus()
    random.Random(4).shuffle(papers)
    profile = NicheProfile("robot", ("grasping", "tactile sensing"))
    first = rank(index, profile, limit=3)
    assert rank(index, profile, limit=3) == first
    assert [p.paper_id for p in rank(_index(papers), profile, limit=3).picks] == [
        p.paper_id for p in first.picks
    ]


@pytest.mark.parametrize("keyword", ["scan", "state space model", "recurrence"])
def test_picks_do_not_depend_on_the_order_papers_were_indexed(keyword: str) -> None:
    """Many papers tie at a saturated keyword match; the niche's core must not follow row order."""
    papers = topic_papers("ssm", 40) + topic_papers("robot", 30) + topic_papers("auction", 30)
    picks = set()
    for seed in range(6):
        shuffled = papers[:]
        random.Random(seed).shuffle(shuffled)
        ranking = rank(_index(shuffled), NicheProfile("n", (keyword,)), limit=5)
        picks.add(tuple(p.paper_id for p in ranking.picks))
    assert len(picks) == 1


def test_exclusions_remove_papers(index) -> None:  # type: ignore[no-untyped-def]
    profile = NicheProfile("robot", ("grasping", "robot"), exclude=("simulation",), band=None)
    picks = rank(index, profile, limit=20).picks
    texts = {p.id: document(p).lower() for p in corpus()}
    assert picks and not any("simulation" in texts[p.paper_id] for p in picks)
    assert any("simulation" in text for text in texts.values())


def test_seeds_pull_in_related_papers(index) -> None:  # type: ignore[no-untyped-def]
    seed = topic_papers("robot", 1)[0].id
    without = rank(index, NicheProfile("n", ("auction",), band=None), limit=30)
    with_seed = rank(index, NicheProfile("n", ("auction",), seeds=(seed,), band=None), limit=30)
    robot = lambda r: {p.paper_id for p in r.picks if p.paper_id[5] == "2"}  # noqa: E731
    assert robot(without) == set()
    assert robot(with_seed) and seed not in robot(with_seed)
    assert any("seed" in reason for p in with_seed.picks for reason in p.reasons)


def test_seed_alone_is_a_niche(index) -> None:  # type: ignore[no-untyped-def]
    seed = topic_papers("auction", 1)[0].id
    ranking = rank(index, NicheProfile("n", ("zebrafish",), seeds=(seed,), band=None), limit=5)
    assert ranking.picks and all(p.paper_id[5] == "1" for p in ranking.picks)
    assert 'no paper uses "zebrafish"' in ranking.notes


def test_niche_matching_nothing_says_which_keyword(index) -> None:  # type: ignore[no-untyped-def]
    ranking = rank(index, NicheProfile("n", ("quantum chromodynamics",)))
    assert ranking.picks == () and ranking.pool_size == 0
    assert ranking.notes == ('no paper uses "quantum chromodynamics"',)


def test_one_paper_corpus() -> None:
    paper = topic_papers("ssm", 1)[0]
    ranking = rank(_index([paper]), NicheProfile("n", ("selective scan",)), limit=5)
    assert [p.paper_id for p in ranking.picks] == [paper.id]
    assert ranking.picks[0].reasons[0] == 'matches "selective scan"'


def test_mentions_move_a_paper_towards_the_mainstream(index) -> None:  # type: ignore[no-untyped-def]
    profile = NicheProfile("ssm", SSM, band=None)
    quiet = {p.paper_id: p.percentile for p in rank(index, profile, limit=50).picks}
    target = max(quiet, key=quiet.get)  # the least mainstream paper
    loud = rank(index, profile, limit=50, mentions={target: 3})
    moved = {p.paper_id: p for p in loud.picks}[target]
    assert moved.percentile < quiet[target]
    assert moved.mentions == 3 and "discussed by 3 people" in moved.reasons


def test_delivered_papers_never_return_and_the_band_still_fills(index) -> None:  # type: ignore[no-untyped-def]
    profile = NicheProfile("ssm", SSM)
    first = rank(index, profile, limit=3)
    gone = {p.paper_id for p in first.picks}
    second = rank(index, profile, limit=3, exclude_ids=gone)
    assert len(second.picks) == 3 and not gone & {p.paper_id for p in second.picks}


def test_no_near_duplicates_among_picks(index) -> None:  # type: ignore[no-untyped-def]
    picks = rank(index, NicheProfile("ssm", SSM, band=None), limit=12).picks
    rows = [index.row_of[p.paper_id] for p in picks]
    vectors = index.vectors(rows)
    sims = (vectors @ vectors.T).toarray()
    off = sims[~np.eye(len(rows), dtype=bool)]
    assert len(picks) >= 2 and off.max() < DUPLICATE


def test_reasons_name_terms_percentile_and_pool(index) -> None:  # type: ignore[no-untyped-def]
    pick = rank(index, NicheProfile("ssm", ("selective scan", "linear recurrence")), limit=1).picks[
        0
    ]
    assert pick.matched_terms and pick.reasons[0].startswith("matches ")
    assert any(r.startswith("percentile ") and r.endswith("-paper pool") for r in pick.reasons)
    assert 0 < pick.score <= 1


def test_home_category_lifts_papers_of_the_niches_category() -> None:
    """Two equally worded papers: the one in the category the niche's best matches share ranks higher."""
    papers = corpus()
    twin_a = Paper(id="2502.00001", title="Grasping notes", abstract="A robot and an auction.")
    twin_b = Paper(id="2502.00002", title="Grasping notes", abstract="A robot and an auction.")
    papers += [twin_a, twin_b]
    tags = [("cs.RO",) if p.id[5] == "2" else ("cs.GT",) for p in papers[:-2]] + [
        ("cs.RO",),
        ("cs.GT",),
    ]
    index = build(
        [p.id for p in papers], [document(p) for p in papers], list(range(len(papers))), tags
    )
    profile = NicheProfile("robot", ("grasping",))
    lifted = _relevance(score(index, profile))  # twins: only one is ever picked
    assert lifted["2502.00001"] > lifted["2502.00002"] > 0
    text_only = _relevance(score(index, profile, weights=Weights(categories=0)))
    assert text_only["2502.00001"] == pytest.approx(text_only["2502.00002"])


def _relevance(scores: Scores) -> dict[str, float]:
    return dict(zip(scores.ids, scores.relevance.tolist(), strict=True))
