"""The citations step: counts for the papers that matter, one identity for arXiv papers."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from bot.citations import papers_that_matter, refresh
from bot.collect import CITATIONS, collect_all
from bot.config import Niche, Settings, parse_settings
from bot.digest.build import build_digest
from bot.models import Digest
from bot.store import Store, schema
from bot.store.citations import Count
from ranking.models import Pick, Ranking
from sources.citations import CitationClient
from sources.errors import FetchError
from sources.models import Mention, Paper
from tests.conftest import migrated_from

DOI = "doi:10.18653/v1/2021.acl-long.24"
KNOWN = {  # what the local Semantic Scholar knows, by batch id
    "ARXIV:2106.01234": {"ArXiv": "2106.01234", "DOI": "10.18653/v1/2021.acl-long.24"},
    "DOI:10.18653/v1/2021.acl-long.24": {
        "ArXiv": "2106.01234",
        "DOI": "10.18653/v1/2021.acl-long.24",
    },
    "ARXIV:1706.03762": {"ArXiv": "1706.03762"},
}
COUNTS = {"2106.01234": 11, "1706.03762": 120000}


class S2:
    """Answers /paper/batch as Semantic Scholar does: a paper per known id, null otherwise."""

    def __init__(self, server: HTTPServer):
        self.asked: list[list[str]] = []
        server.expect_request("/graph/v1/paper/batch", method="POST").respond_with_handler(
            self.answer
        )
        self.url = server.url_for("/graph/v1")

    def answer(self, request: Request) -> Response:
        ids = request.get_json()["ids"]
        self.asked.append(ids)
        body = []
        for i in ids:
            ext = KNOWN.get(i)
            body.append(
                None
                if ext is None
                else {
                    "paperId": f"s2-{i}",
                    "externalIds": ext,
                    "citationCount": COUNTS[ext["ArXiv"]],
                    "venue": "ACL",
                    "year": 2021,
                }
            )
        return Response(json.dumps(body), content_type="application/json")


def settings_for(s2: S2, **niche: object) -> Settings:
    niches = [{"name": "mt", "keywords": ["word alignment"], **niche}] if niche else []
    return parse_settings(
        {
            "sources": {
                "arxiv": {"enabled": False},
                "citations": {"enabled": True, "base_url": s2.url, "delay_seconds": 0},
            },
            "niches": niches,
        }
    )


def fast(s2: S2) -> CitationClient:
    return CitationClient(s2.url, delay_seconds=0, backoff_seconds=0.01)


@pytest.mark.backends
def test_a_doi_paper_on_arxiv_is_merged_with_its_mentions_and_queue_state(
    httpserver: HTTPServer, store: Store
) -> None:
    s2 = S2(httpserver)
    store.papers.upsert(
        [Paper(id=DOI, title="Alignment", abstract="Word alignment.", source="feed")]
    )
    store.papers.add_mentions(
        [
            Mention(paper_id=DOI, source="reddit", external_id="c1", who="ann"),
            Mention(paper_id="1706.03762", source="reddit", external_id="c2", who="bob"),
            Mention(paper_id="2501.00009", source="reddit", external_id="c3", who="cy"),
        ]
    )
    store.queue.enqueue("mt", [DOI])
    store.queue.mark("mt", DOI, "saved")

    batch = refresh(settings_for(s2), store, fast(s2))

    assert store.papers.get(DOI) is None
    merged = store.papers.get("2106.01234")
    assert merged is not None and merged.title == "Alignment"
    assert merged.url == "https://arxiv.org/abs/2106.01234"
    assert store.papers.mentions_of(["2106.01234"])["2106.01234"][0].external_id == "c1"
    assert store.queue.states("mt") == {"2106.01234": "saved"}
    assert store.citations.popularity() == {"2106.01234": 11, "1706.03762": 120000}
    assert store.citations.aliases_of([DOI]) == {DOI: "2106.01234"}
    assert batch.notes == [
        "citations: 2 counts from 1 request, 1 paper unknown to Semantic Scholar, "
        "1 merged into its arXiv paper"
    ]
    # the queue paper first, then mentioned papers, most mentioned first; never a whole store
    assert s2.asked == [
        ["DOI:10.18653/v1/2021.acl-long.24", "ARXIV:1706.03762", "ARXIV:2501.00009"]
    ]


@pytest.mark.backends
def test_a_merge_into_a_stored_arxiv_paper_keeps_what_it_has(
    httpserver: HTTPServer, store: Store
) -> None:
    s2 = S2(httpserver)
    store.papers.upsert(
        [
            Paper(id=DOI, title="Alignment (ACL)", source="feed"),
            Paper(id="2106.01234", title="Alignment (arXiv)", abstract="A.", version=2),
        ]
    )
    store.papers.add_mentions(
        [
            Mention(paper_id=DOI, source="reddit", external_id="same", who="ann"),
            Mention(paper_id="2106.01234", source="reddit", external_id="same", who="ann"),
            Mention(paper_id=DOI, source="feed:blog", external_id="e1"),
        ]
    )
    store.queue.mark("mt", "2106.01234", "read")
    store.queue.mark("mt", DOI, "skipped")  # set later: it wins
    store.queue.mark("other", DOI, "saved")

    refresh(settings_for(s2), store, fast(s2))

    assert store.papers.get("2106.01234").title == "Alignment (arXiv)"
    assert sorted(
        m.external_id for m in store.papers.mentions_of(["2106.01234"])["2106.01234"]
    ) == [
        "e1",
        "same",
    ]
    assert store.queue.states("mt") == {"2106.01234": "skipped"}
    assert store.queue.states("other") == {"2106.01234": "saved"}


@pytest.mark.backends
def test_counts_are_not_asked_again_within_refresh_days(
    httpserver: HTTPServer, store: Store
) -> None:
    s2 = S2(httpserver)
    store.papers.add_mentions(
        [
            Mention(paper_id="1706.03762", source="reddit", external_id="c"),
            Mention(paper_id="2501.00009", source="reddit", external_id="d"),  # unknown to S2
        ]
    )
    settings = settings_for(s2)
    refresh(settings, store, fast(s2))
    again = refresh(settings, store, fast(s2))
    assert len(s2.asked) == 1
    assert again.notes == ["citations: all 2 papers that matter are fresh"]
    assert store.citations.popularity() == {"1706.03762": 120000}  # unknown is not zero
    assert "2501.00009" not in store.citations.counts_of(["2501.00009"])
    later = refresh(settings, store, fast(s2), now=datetime.now(UTC) + timedelta(days=8))
    assert len(s2.asked) == 2 and later.notes[0].startswith("citations: 1 count from 1 request")


def test_a_new_link_to_a_merged_doi_joins_the_arxiv_paper_without_asking(
    httpserver: HTTPServer, store: Store
) -> None:
    s2 = S2(httpserver)
    store.papers.add_mentions([Mention(paper_id=DOI, source="reddit", external_id="c1")])
    settings = settings_for(s2)
    refresh(settings, store, fast(s2))
    store.papers.add_mentions([Mention(paper_id=DOI, source="reddit", external_id="c9")])
    refresh(settings, store, fast(s2))
    assert store.papers.get(DOI) is None
    assert len(s2.asked) == 1  # the DOI is an alias now; the arXiv paper's count is fresh
    ids = [m.external_id for m in store.papers.mentions_of(["2106.01234"])["2106.01234"]]
    assert sorted(ids) == ["c1", "c9"]


def test_niche_pools_are_looked_up_but_the_rest_of_the_store_is_not(
    httpserver: HTTPServer, store: Store, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    s2 = S2(httpserver)
    store.papers.upsert(
        [
            Paper(id="2106.01234", title="Unsupervised word alignment", abstract="Word alignment."),
            Paper(id="2106.05555", title="Protein folding", abstract="Proteins fold."),
        ]
    )
    settings = settings_for(s2, keywords=["word alignment"])
    settings = settings.model_copy(
        update={"storage": settings.storage.model_copy(update={"index_dir": str(tmp_path / "ix")})}
    )
    assert papers_that_matter(settings, store) == ["2106.01234"]
    refresh(settings, store, fast(s2))
    assert s2.asked == [["ARXIV:2106.01234"]]


def test_collect_runs_the_citations_step_last_and_records_it(
    httpserver: HTTPServer, store: Store
) -> None:
    s2 = S2(httpserver)
    store.papers.add_mentions([Mention(paper_id="1706.03762", source="reddit", external_id="c")])
    report = collect_all(settings_for(s2), store)
    assert [r.name for r in report.sources] == [CITATIONS]
    assert report.ok and report.sources[0].notes == ["citations: 1 count from 1 request"]
    assert store.citations.popularity() == {"1706.03762": 120000}


def test_a_failing_semantic_scholar_is_one_failed_step(
    httpserver: HTTPServer, store: Store
) -> None:
    httpserver.expect_request("/graph/v1/paper/batch").respond_with_data("down", status=503)
    settings = parse_settings(
        {
            "sources": {
                "arxiv": {"enabled": False},
                "citations": {
                    "enabled": True,
                    "base_url": httpserver.url_for("/graph/v1"),
                    "delay_seconds": 0,
                    "retries": 0,
                },
            }
        }
    )
    store.papers.add_mentions([Mention(paper_id="1706.03762", source="reddit", external_id="c")])
    store.citations.put_counts([Count("1706.03762", "gs", 7)])
    report = collect_all(settings, store)
    assert not report.ok
    assert report.sources[0].error.startswith("HTTP 503 while trying to look up 1 paper at ")
    assert store.citations.popularity() == {"1706.03762": 7}  # nothing stored is lost


@pytest.mark.backends
def test_a_version_3_database_gains_the_citation_tables_and_keeps_its_papers(
    store_url: str,
) -> None:
    store = Store(store_url)
    store.papers.upsert([Paper(id="1706.03762", title="Attention")])
    undo = [f"DROP TABLE {table}" for table in ("aliases", "citations", "listings")]
    store = migrated_from(store, 3, *undo)
    try:
        with store.connect() as conn:
            assert schema.current_version(conn) == schema.SCHEMA_VERSION
        assert store.papers.get("1706.03762") is not None
        store.citations.put_counts([Count("1706.03762", "s2", 5)])
        assert store.citations.popularity() == {"1706.03762": 5}
    finally:
        store.close()


def test_answers_already_received_are_kept_when_a_later_request_fails(
    httpserver: HTTPServer, store: Store
) -> None:
    httpserver.expect_ordered_request("/graph/v1/paper/batch").respond_with_json(
        [{"paperId": "s", "externalIds": {"ArXiv": "1706.03762"}, "citationCount": 9}]
    )
    httpserver.expect_ordered_request("/graph/v1/paper/batch").respond_with_data("down", status=503)
    store.papers.add_mentions(
        [
            Mention(paper_id="1706.03762", source="reddit", external_id="a", who="x"),
            Mention(paper_id="1706.03762", source="reddit", external_id="b", who="y"),
            Mention(paper_id="2501.00009", source="reddit", external_id="c", who="z"),
        ]
    )
    url = httpserver.url_for("/graph/v1")
    client = CitationClient(url, delay_seconds=0, retries=0, batch_size=1)
    with pytest.raises(FetchError, match="HTTP 503"):
        refresh(_plain(url), store, client)
    assert store.citations.popularity() == {"1706.03762": 9}


def _plain(url: str) -> Settings:
    return parse_settings(
        {"sources": {"arxiv": {"enabled": False}, "citations": {"enabled": True, "base_url": url}}}
    )


def test_a_digest_item_carries_the_citation_count_through_its_stored_form() -> None:
    reason = "cited 87 times, percentile 24 of 312 NeurIPS 1987-1997 papers on this niche"
    pick = Pick("1706.03762", 0.9, 24.0, reasons=(reason,), citations=87)
    digest = build_digest(
        Niche(name="nets", keywords=["neural network"]),
        date(2026, 12, 1),
        Ranking(picks=(pick,), pool_size=312, candidates=400),
        {"1706.03762": Paper(id="1706.03762", title="Attention")},
    )
    (item,) = Digest.from_json(digest.to_json()).items
    assert (item.citations, item.reasons) == (87, (reason,))
