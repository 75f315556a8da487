"""Feed collectors against feeds served on 127.0.0.1, parsed by the real feedparser."""

from __future__ import annotations

import gzip
import itertools
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from sources.errors import FetchError
from sources.feeds import FeedCollector, FeedSpec, arxiv_entry, parse_feed
from tests.fakes.clock import FakeClock

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "feeds"
RSS = "application/rss+xml"


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def feed(server: HTTPServer, path: str = "/feed", **overrides: object) -> FeedCollector:
    spec = FeedSpec(name=str(overrides.pop("name", "notes")), url=server.url_for(path), **overrides)  # type: ignore[arg-type]
    return FeedCollector(spec, clock=FakeClock())


def test_blog_post_links_become_mentions_with_context(server: HTTPServer) -> None:
    server.expect_request("/feed").respond_with_data(body("blog.xml"), content_type=RSS)
    batch = feed(server).collect({})

    by_paper = {m.paper_id: m for m in batch.mentions}
    assert list(by_paper) == [
        "2406.04093",
        "https://notes.example.org/files/sae-details.pdf",
        "doi:10.5281/zenodo.1234567",
        "2309.08600",
    ]
    sae = by_paper["2406.04093"]
    assert (sae.source, sae.external_id, sae.who) == ("feed:notes", "notes-post-41", "Ada Lovelace")
    assert sae.where == "https://notes.example.org/posts/sae"
    assert sae.context == (
        "What we learned from sparse autoencoders: Our starting point was "
        "Scaling and evaluating sparse autoencoders."
    )
    assert sae.title_hint == "Scaling and evaluating sparse autoencoders"
    assert sae.seen_at == datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    # a post that *is* a paper link: the post title is the paper's title; who falls back to the feed
    mono = by_paper["2309.08600"]
    assert (mono.title_hint, mono.who, mono.context) == (
        "Towards Monosemanticity",
        "notes",
        "Towards Monosemanticity",
    )
    # the relative PDF link resolved against the post; its link text is its title
    assert [(p.id, p.title) for p in batch.papers] == [
        ("https://notes.example.org/files/sae-details.pdf", "our technical report")
    ]


def test_conditional_get_304_means_nothing_new(server: HTTPServer) -> None:
    server.expect_ordered_request("/feed").respond_with_data(
        body("blog.xml"),
        content_type=RSS,
        headers={"ETag": '"v1"', "Last-Modified": "Mon, 05 Jan 2026 10:00:00 GMT"},
    )
    server.expect_ordered_request(
        "/feed",
        headers={"If-None-Match": '"v1"', "If-Modified-Since": "Mon, 05 Jan 2026 10:00:00 GMT"},
    ).respond_with_data(b"", status=304)
    collector = feed(server)
    first = collector.collect({})
    assert first.state == {
        "url": server.url_for("/feed"),
        "etag": '"v1"',
        "modified": "Mon, 05 Jan 2026 10:00:00 GMT",
    }
    second = collector.collect(first.state)
    assert (second.papers, second.mentions) == ([], [])
    assert second.state == first.state
    assert second.notes == ["not modified since the last run"]
    server.check_assertions()


def test_redirect_is_followed_and_the_final_url_recorded(server: HTTPServer) -> None:
    server.expect_request("/old").respond_with_data(
        b"", status=301, headers={"Location": server.url_for("/new")}
    )
    server.expect_request("/new").respond_with_data(body("blog.xml"), content_type=RSS)
    batch = feed(server, "/old").collect({})
    assert len(batch.mentions) == 4
    assert batch.state["url"] == server.url_for("/new")
    assert batch.notes == [
        f"{server.url_for('/old')} redirects to {server.url_for('/new')}; "
        "consider updating the feed's url"
    ]


def test_malformed_feed_is_read_as_far_as_it_goes(server: HTTPServer) -> None:
    server.expect_request("/feed").respond_with_data(body("broken.xml"), content_type=RSS)
    batch = feed(server, name="half").collect({})
    assert [m.paper_id for m in batch.mentions] == ["2401.04088"]
    [note] = batch.notes
    assert note.startswith("the feed is not well-formed (")
    assert note.endswith("read 2 entries from it")  # the cut-off one included


def test_html_page_instead_of_a_feed_is_a_fetch_error(server: HTTPServer) -> None:
    page = b"<!DOCTYPE html>\n<html><head><title>We moved</title></head><body>Hi</body></html>"
    server.expect_request("/feed").respond_with_data(
        page, content_type="text/html", headers={"ETag": '"page"'}
    )
    with pytest.raises(
        FetchError, match=r"feed:notes: .*/feed answered with an HTML page, not an RSS or Atom feed"
    ):
        feed(server).collect({})


def test_iso_8859_1_feed_decodes(server: HTTPServer) -> None:
    server.expect_request("/feed").respond_with_data(body("iso8859.xml"), content_type="text/xml")
    batch = feed(server, name="cafe").collect({})
    [mention] = batch.mentions
    assert mention.paper_id == "1706.03762"
    assert mention.context.startswith(
        "Über Aufmerksamkeit und Café: Wir lesen Attention Is All You Need"
    )
    assert batch.notes == []


def test_oversized_feed_is_cut_at_max_bytes_and_reported(server: HTTPServer) -> None:
    big = body("blog.xml").replace(b"</channel>", b"<!--" + b"x" * 200_000 + b"--></channel>")
    server.expect_request("/feed").respond_with_data(
        big, content_type=RSS, headers={"ETag": '"big"'}
    )
    batch = feed(server, max_bytes=len(body("blog.xml"))).collect({})
    assert len(batch.mentions) == 4  # everything before the cut is kept
    assert any("larger than max_bytes" in n and "Raise max_bytes" in n for n in batch.notes)
    assert "etag" not in batch.state  # so the next run reads it again


def test_slow_feed_times_out_with_a_clear_reason(server: HTTPServer) -> None:
    def slow(request: Request) -> Response:
        time.sleep(1.0)
        return Response(body("blog.xml"), content_type=RSS)

    server.expect_request("/feed").respond_with_handler(slow)
    with pytest.raises(FetchError, match=r"feed:notes: no answer within 0.2 s .* after 2 tries"):
        feed(server, timeout_seconds=0.2, retries=1).collect({})


def test_429_retry_after_then_success(server: HTTPServer) -> None:
    server.expect_ordered_request("/feed").respond_with_data(
        b"slow down", status=429, headers={"Retry-After": "0"}
    )
    server.expect_ordered_request("/feed").respond_with_data(body("blog.xml"), content_type=RSS)
    assert len(feed(server).collect({}).mentions) == 4


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (404, "HTTP 404 from .*; check the feed's url"),
        (503, "HTTP 503 while trying to read .* after 3 tries"),
    ],
)
def test_http_errors_become_fetch_errors(server: HTTPServer, status: int, message: str) -> None:
    server.expect_request("/feed").respond_with_data(b"no", status=status)
    with pytest.raises(FetchError, match=message):
        feed(server).collect({})


def test_arxiv_rss_keeps_the_configured_announce_types(server: HTTPServer) -> None:
    server.expect_request("/rss").respond_with_data(body("arxiv_rss.xml"), content_type=RSS)
    batch = feed(server, "/rss", name="cs.LG", kind="arxiv-rss").collect({})
    assert [p.id for p in batch.papers] == ["2601.01001", "2601.01002"]
    first = batch.papers[0]
    assert first.title == "Gradient Noise Is All You Need"
    assert first.abstract == "We show that a little noise goes a long way."
    assert first.authors == ("Ada Lovelace", "Alan Turing")
    assert first.categories == ("cs.LG", "stat.ML")
    assert (first.version, first.url, first.source) == (
        1,
        "https://arxiv.org/abs/2601.01001",
        "feed:cs.LG",
    )
    assert batch.mentions == []
    assert batch.notes == ["skipped 1 replace, 1 replace-cross (not in announce_types)"]

    replaced = parse_feed(
        body("arxiv_rss.xml"), FeedSpec("cs.LG", "x", kind="arxiv-rss", announce_types=("replace",))
    )
    assert [(p.id, p.version) for p in replaced.papers] == [("2511.09999", 3)]


def test_same_paper_from_two_feeds_is_one_paper_with_two_mentions(server: HTTPServer) -> None:
    server.expect_request("/a").respond_with_data(body("blog.xml"), content_type=RSS)
    server.expect_request("/b").respond_with_data(
        body("other_blog.xml"), content_type="application/atom+xml"
    )
    mentions = [
        *feed(server, "/a", name="notes").collect({}).mentions,
        *feed(server, "/b", name="weekly").collect({}).mentions,
    ]
    sae = [(m.source, m.who) for m in mentions if m.paper_id == "2406.04093"]
    assert sae == [("feed:notes", "Ada Lovelace"), ("feed:weekly", "Grace Hopper")]


def test_feed_mentions_land_in_the_store_once(server: HTTPServer, store) -> None:  # type: ignore[no-untyped-def]
    server.expect_request("/feed").respond_with_data(body("blog.xml"), content_type=RSS)
    batch = feed(server).collect({})
    store.papers.upsert(batch.papers)
    assert store.papers.add_mentions(batch.mentions) == 4
    assert store.papers.add_mentions(batch.mentions) == 0
    assert store.papers.get("2309.08600").title == "Towards Monosemanticity"


# ---- the real feeds beside the project --------------------------------------------------------


@pytest.mark.shared
def test_every_real_feed_parses(shared_data: Path) -> None:
    files = sorted((shared_data / "feeds").glob("*/*.xml"))
    assert len(files) >= 20
    links = papers = 0
    for path in files:
        batch = parse_feed(path.read_bytes(), FeedSpec(path.stem, "https://example.org/feed"))
        links += len(batch.mentions)
        papers += len({m.paper_id for m in batch.mentions})
        for mention in batch.mentions:
            assert mention.paper_id and mention.source == f"feed:{path.stem}"
    assert links >= 8 and papers >= 8


@pytest.mark.shared
def test_real_arxiv_rss_entries_become_papers(shared_data: Path) -> None:
    kinds: dict[str, int] = {}
    with gzip.open(shared_data / "feeds" / "arxiv-rss-entries-2025.jsonl.gz", "rt") as lines:
        for line in itertools.islice(lines, 3000):
            entry = json.loads(line)
            found = arxiv_entry(entry, "feed:arxiv")
            assert found is not None, entry["id"]
            paper, announce = found
            assert announce == entry["announce_type"]
            assert paper.title and paper.abstract and not paper.abstract.startswith("arXiv:")
            assert paper.authors and "v" not in paper.id
            kinds[announce] = kinds.get(announce, 0) + 1
    assert sum(kinds.values()) == 3000 and kinds.get("new", 0) > 0


def test_configured_feeds_run_through_collect(server: HTTPServer, store) -> None:  # type: ignore[no-untyped-def]
    from bot.collect import collect_all
    from bot.config import parse_settings

    server.expect_request("/a").respond_with_data(body("blog.xml"), content_type=RSS)
    server.expect_request("/b").respond_with_data(
        body("other_blog.xml"), content_type="application/atom+xml"
    )
    settings = parse_settings(
        {
            "sources": {
                "arxiv": {"enabled": False},
                "feeds": [
                    {"name": "notes", "url": server.url_for("/a")},
                    {"name": "weekly", "url": server.url_for("/b")},
                ],
            }
        }
    )
    report = collect_all(settings, store)
    assert [(r.name, r.ok, r.mentions) for r in report.sources] == [
        ("feed:notes", True, 4),
        ("feed:weekly", True, 1),
    ]
    assert store.papers.mention_counts()["2406.04093"] == 2
    assert store.state.get("feed:notes") == {"url": server.url_for("/a")}


def test_paper_list_entries_are_papers_with_their_abstracts() -> None:
    xml = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Reading list</title>
    <link>https://list.example.org/</link>
    <item><title>Deep Sets</title><link>https://openreview.net/forum?id=HyxR5V2xx</link>
    <description>Functions on sets, &lt;b&gt;permutation invariant&lt;/b&gt;.</description></item>
    </channel></rss>"""
    batch = parse_feed(xml, FeedSpec("list", "https://list.example.org/rss", kind="paper-list"))
    [paper] = batch.papers
    assert (paper.id, paper.title, paper.abstract) == (
        "openreview:HyxR5V2xx",
        "Deep Sets",
        "Functions on sets, permutation invariant.",
    )
    [mention] = batch.mentions
    assert (mention.paper_id, mention.who, mention.where) == (
        "openreview:HyxR5V2xx",
        "list",
        "https://openreview.net/forum?id=HyxR5V2xx",
    )
