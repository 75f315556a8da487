"""The pool ordered by citations or mentions: still chosen by relevance, banded by popularity."""

from __future__ import annotations

import pytest

from ranking import NicheProfile, build, pool_ids, rank
from ranking.text import document
from tests.ranking.corpus import corpus

SSM = ("selective scan", "linear recurrence", "state space model")


@pytest.fixture(scope="module")
def index():  # type: ignore[no-untyped-def]
    papers = corpus()
    return build([p.id for p in papers], [document(p) for p in papers], list(range(len(papers))))


def top_ids(index) -> list[str]:  # type: ignore[no-untyped-def]
    top = rank(index, NicheProfile("ssm", SSM, band=None), limit=100)
    return [p.paper_id for p in top.picks]


def test_citation_order_ranks_the_same_pool_by_count_then_relevance(index) -> None:  # type: ignore[no-untyped-def]
    members = top_ids(index)
    cited = {pid: 10 * i for i, pid in enumerate(members)}  # the least relevant is the most cited
    cited[members[1]] = cited[members[2]]  # a tie: relevance decides
    ranking = rank(
        index, NicheProfile("ssm", SSM, band=None), limit=100, order="citations", popularity=cited
    )
    assert {p.paper_id for p in ranking.picks} == set(members)  # the pool did not change
    order = [p.paper_id for p in sorted(ranking.picks, key=lambda p: p.percentile)]
    expected = sorted(members, key=lambda pid: (-cited[pid], members.index(pid)))
    assert order == expected
    assert [p.citations for p in sorted(ranking.picks, key=lambda p: p.percentile)][:2] == [
        cited[expected[0]],
        cited[expected[1]],
    ]


def test_a_citation_band_pick_says_where_it_sits(index) -> None:  # type: ignore[no-untyped-def]
    members = top_ids(index)
    cited = {pid: 1000 - i for i, pid in enumerate(members)}
    ranking = rank(
        index,
        NicheProfile("ssm", SSM, band=(15, 40)),
        limit=1,
        order="citations",
        popularity=cited,
        scope="NeurIPS 1987-1997",
    )
    (pick,) = ranking.picks
    n = ranking.pool_size
    assert pick.reasons[-1] == (
        f"cited {pick.citations} times, percentile {pick.percentile:.0f} of {n} "
        "NeurIPS 1987-1997 papers on this niche"
    )
    assert 15 <= pick.percentile < 40


def test_unknown_counts_sink_below_known_ones(index) -> None:  # type: ignore[no-untyped-def]
    members = top_ids(index)
    last = members[-1]
    ranking = rank(
        index,
        NicheProfile("ssm", SSM, band=None),
        limit=100,
        order="citations",
        popularity={last: 0},
    )
    ordered = sorted(ranking.picks, key=lambda p: p.percentile)
    assert ordered[0].paper_id == last and ordered[0].citations == 0
    assert ordered[1].citations is None and ordered[1].reasons[-1].startswith("citations unknown")


def test_mentions_order_and_an_ids_restriction(index) -> None:  # type: ignore[no-untyped-def]
    members = top_ids(index)
    ranking = rank(
        index,
        NicheProfile("ssm", SSM, band=None),
        limit=100,
        order="mentions",
        mentions={members[-1]: 3},
    )
    assert min(ranking.picks, key=lambda p: p.percentile).paper_id == members[-1]
    only = rank(index, NicheProfile("ssm", SSM, band=None), limit=100, ids=set(members[:3]))
    assert only.picks and {p.paper_id for p in only.picks} <= set(members[:3])


def test_an_unknown_order_is_refused(index) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="order must be one of relevance, citations, mentions"):
        rank(index, NicheProfile("ssm", SSM), order="stars")


def test_pool_ids_is_the_whole_pool_most_relevant_first(index) -> None:  # type: ignore[no-untyped-def]
    top = rank(index, NicheProfile("ssm", SSM, band=None), limit=100)
    members = pool_ids(index, NicheProfile("ssm", SSM))
    assert len(members) == top.pool_size
    assert {p.paper_id for p in top.picks} <= set(members)
    assert members[0] == min(top.picks, key=lambda p: p.percentile).paper_id
    assert pool_ids(index, NicheProfile("ssm", SSM), ids=members[:2]) == members[:2]
