"""ranking.explain: the pool, band and picks the ranker itself produces, and what each part of
the niche did to them."""

from __future__ import annotations

import numpy as np
import pytest

from ranking import NicheProfile, TfidfIndex, build, rank
from ranking.explain import explain
from ranking.text import document
from sources.models import Paper
from tests.ranking.corpus import topic_papers

SSM = ("selective scan", "linear recurrence", "state space")


def corpus() -> list[Paper]:
    extra = [
        Paper(id="2502.00001", title="A survey of selective scan methods", abstract="We survey."),
        Paper(
            id="2502.00002",
            title="Kernels for recurrent hardware",
            abstract="Parallel scan kernels make the recurrence fast on hardware accelerators.",
        ),
        Paper(
            id="2502.00003",
            title="Parallel scan kernels on hardware accelerators",
            abstract="Recurrent kernels: the parallel scan runs fast on accelerators.",
        ),
    ]
    return topic_papers("ssm", 40) + topic_papers("robot", 20) + topic_papers("auction", 20) + extra


@pytest.fixture(scope="module")
def index() -> TfidfIndex:
    papers = corpus()
    return build(
        [p.id for p in papers],
        [document(p) for p in papers],
        [0] * len(papers),
        [()] * len(papers),
    )


def test_picks_and_percentiles_are_the_rankers_own(index: TfidfIndex) -> None:
    mentions = {"2501.30007": 4, "2501.30020": 1}
    profile = NicheProfile("ssm", SSM)
    exp = explain(index, profile, limit=5, mentions=mentions)
    ranking = rank(index, profile, limit=5, mentions=mentions)
    assert [p.paper_id for p in exp.picks] == sorted(
        (p.paper_id for p in ranking.picks), key=exp.ids.index
    )
    assert exp.size == ranking.pool_size and exp.candidates == ranking.candidates
    for pick, position in zip(exp.picks, exp.pick_positions, strict=True):
        assert exp.ids[position] == pick.paper_id
        assert round(exp.percentile(position), 1) == pick.percentile
    assert exp.ids[0] == "2501.30007"  # the most discussed paper leads the pool
    assert list(exp.mainstream) == sorted(exp.mainstream, reverse=True)


def test_band_positions_hold_the_band_percentiles(index: TfidfIndex) -> None:
    exp = explain(index, NicheProfile("ssm", SSM, band=(15, 40)), limit=3)
    assert len(exp.band) > 0
    assert all(15 <= exp.percentile(p) < 40 for p in exp.band)
    assert exp.percentile(exp.band.start - 1) < 15 and exp.percentile(exp.band.stop) >= 40


def test_keyword_counts_add_up_and_an_unused_keyword_is_named(index: TfidfIndex) -> None:
    exp = explain(index, NicheProfile("ssm", (*SSM, "quantum widget")), limit=5)
    by = {k.phrase: k for k in exp.keywords}
    assert by["quantum widget"].known is False
    assert (by["quantum widget"].pool, by["quantum widget"].candidates) == (0, 0)
    for j, k in enumerate(exp.keywords):
        assert k.pool == int(exp.uses[:, j].sum())
        assert k.alone + k.shared == k.pool
        assert k.picks <= len(exp.picks)
        assert k.candidates >= k.pool
    assert by["selective scan"].pool > 0 and by["linear recurrence"].pool > 0


def test_a_keyword_alone_is_counted_alone(index: TfidfIndex) -> None:
    exp = explain(index, NicheProfile("mixed", ("selective scan", "auction")), limit=3)
    by = {k.phrase: k for k in exp.keywords}
    # the two topics never share a paper: every pool paper uses exactly one keyword
    assert by["selective scan"].alone == by["selective scan"].pool
    assert by["auction"].alone == by["auction"].pool
    assert by["selective scan"].pool + by["auction"].pool == exp.size


def test_an_exclusion_reports_the_candidates_it_removed(index: TfidfIndex) -> None:
    plain = explain(index, NicheProfile("ssm", SSM), limit=3)
    exp = explain(index, NicheProfile("ssm", SSM, exclude=("survey", "nonexistentword")), limit=3)
    survey, nothing = exp.exclusions
    assert (survey.phrase, survey.known, survey.removed) == ("survey", True, 1)
    assert plain.candidates - exp.candidates == 1
    assert "2502.00001" in plain.ids or survey.removed_from_pool == 0
    assert (nothing.known, nothing.removed) == (False, 0)


def test_seeds_report_what_they_add_and_what_is_missing(index: TfidfIndex) -> None:
    profile = NicheProfile("ssm", ("selective scan",), seeds=("2502.00002", "2409.99999"))
    exp = explain(index, profile, limit=3)
    assert exp.seeds.seeds == ("2502.00002",)
    assert exp.seeds.missing == ("2409.99999",)
    without = explain(index, NicheProfile("ssm", ("selective scan",)), limit=3)
    assert set(exp.seeds.added) == set(exp.ids) - set(without.ids)
    assert exp.seeds.added, "the seed about scan kernels brings in papers without the phrase"
    for paper_id in exp.seeds.added:
        assert not exp.uses[exp.ids.index(paper_id)].any()


def test_an_empty_pool_explains_itself(index: TfidfIndex) -> None:
    exp = explain(index, NicheProfile("none", ("quantum widget",)), limit=3)
    assert exp.size == 0 and exp.picks == () and len(exp.band) == 0
    assert exp.uses.shape == (0, 1)
    assert not np.isnan(exp.relevance).any()
