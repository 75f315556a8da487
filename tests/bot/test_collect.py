"""collect_all and `midlist collect`: every source written whole or not at all, failures recorded."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from bot.collect import LOOKUP, build_collectors, collect_all
from bot.config import Settings, parse_settings
from bot.errors import ConfigError
from bot.store import Store
from sources.arxiv import ArxivCollector
from sources.errors import FetchError
from sources.models import Batch, Mention, Paper
from tests.conftest import ConfigFile, run_cli
from tests.fakes import local_server
from tests.fakes.oai import FakeOai, OaiRecord
from tests.sources.test_arxiv import ArxivScript, Step


def arxiv_config(url: str, **extra: object) -> dict[str, object]:
    """The API side of the arXiv source: the query `cat:cs.LG` (categories go through OAI-PMH)."""
    return {
        "api_url": url,
        "queries": ["cat:cs.LG"],
        "delay_seconds": 0.05,
        "timeout_seconds": 2,
        "page_size": 2,
        "retries": 1,
        **extra,
    }


def settings_for(script: ArxivScript, **extra: object) -> Settings:
    return parse_settings({"sources": {"arxiv": arxiv_config(script.url, **extra)}})


def mention_of(paper_id: str) -> Mention:
    return Mention(
        paper_id=paper_id,
        source="reddit",
        external_id=f"c-{paper_id}",
        where="https://reddit.example/t",
    )


def test_collect_all_stores_papers_cursor_and_run(httpserver: HTTPServer, store: Store) -> None:
    script = ArxivScript(httpserver, [Step("page1.xml"), Step("page2.xml")])
    report = collect_all(settings_for(script), store)

    assert report.ok
    arxiv, lookup = report.sources
    assert (arxiv.name, arxiv.new, arxiv.updated, arxiv.unchanged) == ("arxiv", 4, 0, 0)
    assert (lookup.name, lookup.new) == (LOOKUP, 0)
    assert len(script.hits) == 2  # no placeholders: the look-up asks arXiv nothing
    assert store.papers.count() == 4
    assert store.papers.get("hep-th/9901001") is not None
    assert store.state.get("arxiv") == {"cursor:cat:cs.LG": "2024-05-03T17:59:59+00:00"}
    runs = {r.target: r for r in store.state.last_runs("collect")}
    assert runs["arxiv"].ok and runs["arxiv"].detail.startswith("4 new, 0 updated")


def test_placeholder_is_filled_and_a_new_version_replaces_the_old(
    httpserver: HTTPServer, store: Store
) -> None:
    store.papers.add_mentions([mention_of("2405.00002")])
    assert store.papers.placeholders() == ["2405.00002"]
    script = ArxivScript(httpserver, [Step("v1.xml"), Step("page1.xml"), Step("page2.xml")])
    settings = settings_for(script)

    filled = collect_all(settings, store, only=[LOOKUP])
    assert [(r.name, r.updated) for r in filled.sources] == [(LOOKUP, 1)]
    assert script.hits[0].args["id_list"] == "2405.00002"
    v1 = store.papers.get("2405.00002")
    assert v1 is not None and (v1.version, v1.title) == (1, "Cross-Listed Kernels")
    assert store.papers.placeholders() == []

    report = collect_all(settings, store, only=["arxiv"])
    assert [(r.new, r.updated) for r in report.sources] == [(3, 1)]
    v2 = store.papers.get("2405.00002")
    assert v2 is not None and (v2.version, v2.title) == (2, "Cross-Listed Kernels, Revisited")
    assert v2.categories == ("cs.LG", "stat.ML")
    assert store.papers.count() == 4
    assert len(store.papers.mentions_of(["2405.00002"])["2405.00002"]) == 1


def test_failing_source_is_recorded_and_does_not_stop_the_other(
    httpserver: HTTPServer, store: Store
) -> None:
    kept = Paper(
        id="2301.00001", title="Stored Before", abstract="Already here.", version=1, source="import"
    )
    store.papers.upsert([kept])
    before = store.papers.get(kept.id)
    store.state.put("arxiv", {"cursor:cat:cs.LG": "2024-01-01T00:00:00+00:00"})
    store.papers.add_mentions([mention_of("2405.00002")])
    script = ArxivScript(
        httpserver, [Step("maintenance.html", content_type="text/html"), Step("v1.xml")]
    )

    report = collect_all(settings_for(script), store)

    arxiv, lookup = report.sources
    assert not report.ok
    assert (
        not arxiv.ok
        and arxiv.error is not None
        and "HTML page instead of an Atom feed" in arxiv.error
    )
    assert lookup.ok and lookup.updated == 1
    assert before is not None and store.papers.get(kept.id) == before
    assert store.state.get("arxiv") == {"cursor:cat:cs.LG": "2024-01-01T00:00:00+00:00"}
    failures = store.state.recent_failures()
    assert [(r.target, r.kind) for r in failures] == [("arxiv", "collect")]
    assert "HTML page" in failures[0].detail


@dataclass
class StaticCollector:
    """A collector that hands over a fixed batch, or raises; the Collector protocol, nothing patched."""

    name: str
    batch: Batch | None = None
    error: Exception | None = None
    seen_state: dict[str, str] | None = None

    def collect(self, state: Mapping[str, str]) -> Batch:
        self.seen_state = dict(state)
        if self.error is not None:
            raise self.error
        assert self.batch is not None
        return self.batch


def test_a_batch_that_cannot_be_written_leaves_nothing_behind(store: Store) -> None:
    # A buggy collector hands over a state value the database refuses (NULL). That write comes
    # last, after the papers and mentions: the whole source's transaction must roll back.
    papers = [Paper(id="2405.00007", title="Half Written", version=1, source="feed:x")]
    bad = Batch(papers=papers, mentions=[mention_of("2405.00007")], state={"etag": None})  # type: ignore[dict-item]
    store.state.put("feed:x", {"etag": "old"})
    broken = StaticCollector("feed:x", batch=bad)
    good = StaticCollector(
        "feed:y", batch=Batch(papers=[Paper(id="2405.00008", title="Fine", version=1)])
    )
    settings = parse_settings({"sources": {"arxiv": {"enabled": False}}})

    report = collect_all(settings, store, collectors=[broken, good])

    assert [(r.name, r.ok) for r in report.sources] == [("feed:x", False), ("feed:y", True)]
    assert broken.seen_state == {"etag": "old"}
    assert store.papers.get("2405.00007") is None
    assert store.papers.mentions_of(["2405.00007"]) == {}
    assert store.state.get("feed:x") == {"etag": "old"}
    assert store.papers.get("2405.00008") is not None
    assert report.sources[0].error is not None and "IntegrityError" in report.sources[0].error


def test_source_errors_are_reported_by_reason(store: Store) -> None:
    failing = StaticCollector(
        "feed:z", error=FetchError("feed:z", "HTTP 404 from https://blog.example/feed")
    )
    settings = parse_settings({"sources": {"arxiv": {"enabled": False}}})
    [result] = collect_all(settings, store, collectors=[failing]).sources
    assert (result.ok, result.error) == (False, "HTTP 404 from https://blog.example/feed")
    assert [r.detail for r in store.state.recent_failures()] == [
        "HTTP 404 from https://blog.example/feed"
    ]


def test_unknown_source_name_is_a_config_error(store: Store) -> None:
    settings = parse_settings({"sources": {"arxiv": {"categories": ["cs.LG"]}}})
    with pytest.raises(
        ConfigError,
        match=r"no configured source named 'reddit' \(configured: arxiv, arxiv-lookup\)",
    ):
        collect_all(settings, store, only=["reddit"])


def test_build_collectors_follows_the_config() -> None:
    assert build_collectors(parse_settings({})) == []
    assert (
        build_collectors(
            parse_settings({"sources": {"arxiv": {"categories": ["cs.LG"], "enabled": False}}})
        )
        == []
    )
    [arxiv] = build_collectors(parse_settings({"sources": {"arxiv": {"queries": ["ti:kernels"]}}}))
    assert isinstance(arxiv, ArxivCollector) and arxiv.queries == ["ti:kernels"]
    assert arxiv.oai.url == "https://oaipmh.arxiv.org/oai"


@pytest.mark.parametrize("bad", ["cs LG", "cs.LG;", "CS.LG", ""])
def test_a_malformed_category_is_a_config_error(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"sources.arxiv.categories.*not an arXiv category like"):
        parse_settings({"sources": {"arxiv": {"categories": ["cs.LG", bad]}}})
    assert parse_settings({"sources": {"arxiv": {"categories": ["hep-th", "astro-ph.GA"]}}})


def test_categories_are_harvested_from_the_configured_oai_url(store: Store) -> None:
    with local_server() as server:
        oai = FakeOai(
            server,
            [
                OaiRecord("2405.00001", date(2024, 5, 6), ("cs.LG",), title="Announced Monday"),
                OaiRecord("2405.00002", date(2024, 5, 6), ("cs.CV",), title="Not Followed"),
            ],
        )
        conf = {"oai_url": oai.url, "categories": ["cs.LG"], "delay_seconds": 0, "retries": 0}
        settings = parse_settings({"sources": {"arxiv": conf}})
        store.state.put("arxiv", {"oai:cs": "2024-05-05"})
        first = collect_all(settings, store, only=["arxiv"])
        again = collect_all(settings, store, only=["arxiv"])

    assert [(r.ok, r.new) for r in first.sources] == [(True, 1)]
    assert [(r.ok, r.new, r.unchanged) for r in again.sources] == [(True, 0, 1)]
    assert [r["from"] for r in oai.requests] == ["2024-05-05", "2024-05-06"]
    paper = store.papers.get("2405.00001")
    assert paper is not None and paper.title == "Announced Monday"
    assert store.papers.get("2405.00002") is None
    assert store.state.get("arxiv") == {"oai:cs": "2024-05-06"}


# ---- the command -----------------------------------------------------------------------------


def write_config(config_file: ConfigFile, url: str) -> Path:
    return config_file(sources={"arxiv": arxiv_config(url)})


def row(output: str, name: str) -> list[str]:
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", line) if c.strip()]
        if cells and cells[0] == name:
            return cells[1:]
    raise AssertionError(f"no row for {name!r} in:\n{output}")


def test_cli_collect_prints_counts_per_source(
    httpserver: HTTPServer, tmp_path: Path, config_file: ConfigFile
) -> None:
    script = ArxivScript(httpserver, [Step("page1.xml"), Step("page2.xml")])
    config = write_config(config_file, script.url)

    result = run_cli(config, "collect")

    assert result.exit_code == 0, result.output
    assert row(result.output, "arxiv") == ["4", "0", "0", "0", "ok"]
    assert row(result.output, LOOKUP) == ["0", "0", "0", "0", "ok"]
    assert (tmp_path / "midlist.db").exists()


def test_cli_collect_exits_1_and_says_why_when_a_source_fails(
    httpserver: HTTPServer, config_file: ConfigFile
) -> None:
    script = ArxivScript(httpserver, [Step("malformed.xml")])
    config = write_config(config_file, script.url)

    result = run_cli(config, "collect", "--source", "arxiv")

    assert result.exit_code == 1
    assert row(result.output, "arxiv") == ["0", "0", "0", "0", "failed"]
    assert (
        "arxiv failed: every category and query failed: cat:cs.LG: malformed XML at line"
        in " ".join(result.output.split())
    )
    assert LOOKUP not in result.output


def test_cli_collect_rejects_an_unknown_source(config_file: ConfigFile) -> None:
    config = write_config(config_file, "http://127.0.0.1:9/api/query")
    result = run_cli(config, "collect", "--source", "nope")
    assert result.exit_code == 1
    assert "no configured source named 'nope'" in result.output
