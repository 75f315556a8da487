"""The Reddit collector against a fake Reddit on 127.0.0.1, with praw itself doing the talking."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from pytest_httpserver import HTTPServer

from sources.deadline import DeadlineSession, NoAnswer
from sources.errors import FetchError
from sources.links import find_links
from sources.reddit import RedditCollector, RedditSpec, search_query
from tests.fakes import local_server
from tests.fakes.clock import FakeClock
from tests.fakes.reddit import Failure, FakeReddit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "reddit"
NOW = datetime(2026, 1, 5, tzinfo=UTC)


def load(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def server() -> Iterator[HTTPServer]:
    with local_server() as server:
        yield server


@pytest.fixture
def fake(server: HTTPServer) -> Iterator[FakeReddit]:
    server.clear()
    fake = FakeReddit(server)
    fake.page("/r/MachineLearning/search/", load("search_wayr.json"))
    fake.page("/r/MachineLearning/new/", load("new_posts.json"))
    fake.page("/comments/wayr200/", load("comments_wayr200.json"))
    fake.morechildren(["c4", "c5"], load("morechildren_c4_c5.json"))
    yield fake


def collector(fake: FakeReddit, **overrides: object) -> RedditCollector:
    spec = RedditSpec(
        client_id="id",
        client_secret="secret",
        base_url=fake.url,
        auth_url=fake.url,
        **overrides,  # type: ignore[arg-type]
    )
    return RedditCollector(spec, clock=FakeClock(NOW))


def test_reddit_turns_wayr_comments_into_mentions(fake: FakeReddit) -> None:
    batch = collector(fake).collect({})

    by_comment = {(m.external_id, m.paper_id): m for m in batch.mentions}
    assert set(by_comment) == {
        ("t1_c1", "2312.00752"),
        ("t1_c2", "2312.00752"),
        ("t1_c2", "openreview:uYLFoz1vlAC_"),
        ("t1_c3", "https://proceedings.mlr.press/v139/radford21a.html"),
        ("t1_c4", "hep-th/9901001"),
        ("t1_c4", "doi:10.1103/physrevlett.116.061102"),
    }
    alice = by_comment[("t1_c1", "2312.00752")]
    assert alice.source == "reddit"
    assert alice.who == "u/alice"
    assert alice.score == 12
    assert alice.context == "This week I read Mamba: Linear-Time Sequence Modeling."
    assert alice.title_hint == "Mamba: Linear-Time Sequence Modeling"
    assert (
        alice.where
        == "https://www.reddit.com/r/MachineLearning/comments/wayr200/machine_learning_wayr/c1/"
    )
    assert alice.seen_at == datetime(2026, 1, 1, 1, tzinfo=UTC)
    # a non-arXiv link keeps its title as a paper; arXiv ids are left to the batched look-up
    assert [(p.id, p.title) for p in batch.papers] == [
        (
            "https://proceedings.mlr.press/v139/radford21a.html",
            "Learning Transferable Visual Models From Natural Language Supervision",
        ),
    ]
    assert fake.count("/api/morechildren/") == 1 and fake.more_misses == 0
    assert batch.state["seen_comments"].split() == ["c1", "c3", "c4", "c5", "c2"]
    assert batch.notes == []


def test_reddit_skips_comments_seen_in_an_earlier_run(fake: FakeReddit) -> None:
    first = collector(fake).collect({})
    second = collector(fake).collect(first.state)
    assert second.mentions == []
    assert second.state == first.state


def test_reddit_keeps_the_seen_list_bounded(fake: FakeReddit) -> None:
    batch = collector(fake, seen_limit=3).collect({"seen_comments": "old1 old2"})
    assert batch.state["seen_comments"].split() == ["c4", "c5", "c2"]


def test_reddit_says_so_when_no_thread_is_in_the_window(fake: FakeReddit) -> None:
    late = RedditCollector(collector(fake).spec, clock=FakeClock(datetime(2026, 6, 1, tzinfo=UTC)))
    batch = late.collect({})
    assert batch.mentions == []
    assert batch.notes == [
        "no thread matching /What Are You Reading|WAYR/ in r/MachineLearning in the last 30 days"
    ]


def test_reddit_extra_searches_turn_link_posts_into_mentions(fake: FakeReddit) -> None:
    fake.page("/r/MachineLearning/search/", load("search_research.json"))
    fake.page(
        "/r/MachineLearning/new/", {"kind": "Listing", "data": {"children": [], "after": None}}
    )
    batch = collector(fake, extra_searches=("flair:Research",)).collect({})
    [mention] = batch.mentions
    assert (mention.paper_id, mention.external_id, mention.who, mention.score) == (
        "2510.04871",
        "t3_res001",
        "u/paperfan",
        321,
    )
    assert mention.title_hint == "Tiny Recursive Models beat big ones"
    assert "no thread matching" in batch.notes[0]


def test_reddit_waits_out_a_429_with_retry_after(fake: FakeReddit) -> None:
    fake.fail("/r/MachineLearning/search/", Failure(429, {"Retry-After": "0"}))
    reddit = collector(fake)
    batch = reddit.collect({})
    assert len(batch.mentions) == 6
    assert fake.count("/r/MachineLearning/search/") == 2
    assert reddit.clock.sleeps == [0.0]  # type: ignore[attr-defined]


def test_reddit_gives_up_on_repeated_429s_with_a_clear_reason(fake: FakeReddit) -> None:
    fake.fail("/r/MachineLearning/search/", *[Failure(429, {"Retry-After": "0"})] * 3)
    with pytest.raises(
        FetchError,
        match=r"rate-limited \(HTTP 429\) while trying to list search "
        r"in r/MachineLearning; try again later after 3 tries",
    ):
        collector(fake).collect({})


def test_reddit_rejected_credentials_name_the_variables(fake: FakeReddit) -> None:
    fake.token_status = 401
    with pytest.raises(FetchError, match="REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET"):
        collector(fake).collect({})


def test_reddit_unknown_subreddit_is_a_fetch_error(fake: FakeReddit) -> None:
    with pytest.raises(FetchError, match="HTTP 404 while trying to list search in r/Nope"):
        collector(fake, subreddits=("Nope",)).collect({})


def test_reddit_timeout_really_applies(fake: FakeReddit) -> None:
    # prawcore passes its own 16 s on every call; the session's limit must win.
    fake.fail("/r/MachineLearning/search/", *[Failure(0, delay=1.0)] * 9)
    with pytest.raises(FetchError, match=r"no answer within 0.2 s while trying to list search"):
        collector(fake, timeout_seconds=0.2).collect({})


def test_deadline_session_overrides_the_callers_timeout(fake: FakeReddit) -> None:
    fake.fail("/slow", Failure(0, delay=1.0))
    with DeadlineSession(0.2) as session, pytest.raises(NoAnswer):
        session.request("GET", fake.url + "/slow", timeout=16)


@pytest.mark.parametrize(
    ("pattern", "query"),
    [
        ("What Are You Reading|WAYR", 'title:"What Are You Reading" OR title:"WAYR"'),
        (r"WAYR\s+\d+", None),
    ],
)
def test_search_query_from_the_title_pattern(pattern: str, query: str | None) -> None:
    assert search_query(pattern) == query


def test_configured_reddit_runs_through_collect(fake: FakeReddit, store) -> None:  # type: ignore[no-untyped-def]
    from bot.collect import collect_all
    from bot.config import parse_settings

    days = max(1, (datetime.now(UTC) - datetime(2026, 1, 1, tzinfo=UTC)).days + 2)
    settings = parse_settings(
        {
            "sources": {
                "arxiv": {"enabled": False},
                "reddit": {
                    "enabled": True,
                    "client_id": "id",
                    "client_secret": "secret",
                    "base_url": fake.url,
                    "auth_url": fake.url,
                    "lookback_days": days,
                },
            }
        }
    )
    [result] = collect_all(settings, store).sources
    assert (result.name, result.ok, result.mentions) == ("reddit", True, 6)
    assert store.papers.mention_counts()["2312.00752"] == 2  # alice and bob
    [again] = collect_all(settings, store).sources
    assert (again.ok, again.mentions) == (True, 0)


# ---- the real recordings beside the project ---------------------------------------------------


def _recorded(shared_data: Path) -> list[dict]:  # type: ignore[type-arg]
    return [
        json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((shared_data / "reddit").glob("*.json"))
    ]


def _bodies(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        if value.get("kind") == "t1" and isinstance(value.get("data"), dict):
            yield value["data"].get("body") or ""
        for item in value.values():
            yield from _bodies(item)
    elif isinstance(value, list):
        for item in value:
            yield from _bodies(item)


@pytest.mark.shared
def test_praw_walks_the_real_recorded_comment_trees(shared_data: Path, fake: FakeReddit) -> None:
    threads = []
    for cassette in _recorded(shared_data):
        for step in cassette["interactions"]:
            uri = urlsplit(step["request"]["uri"])
            text = step["response"]["body"]["string"]
            if uri.path.startswith("/comments/"):
                fake.page(uri.path, text)
                if uri.path.count("/") == 3:  # the submission page itself, not a "continue" page
                    threads.append(json.loads(text)[0]["data"]["children"][0])
            elif uri.path == "/api/morechildren/":
                sent = step["request"]["body"]
                sent = sent["string"] if isinstance(sent, dict) else sent
                children = parse_qs(sent)["children"][0].split(",")
                fake.morechildren(children, text)
    assert len(threads) == 3
    fake.page("/r/all/new/", {"kind": "Listing", "data": {"children": threads, "after": None}})
    spec = RedditSpec(
        client_id="id",
        client_secret="secret",
        base_url=fake.url,
        auth_url=fake.url,
        subreddits=("all",),
        thread_pattern=".*",
        lookback_days=20_000,
        replace_more_limit=1000,
    )
    batch = RedditCollector(spec, clock=FakeClock(datetime(2016, 7, 12, tzinfo=UTC))).collect({})
    walked = len(batch.state["seen_comments"].split())
    assert walked > 1500, walked  # the big tree's "more" expansions were followed
    assert fake.count("/api/morechildren/") > 100
    for mention in batch.mentions:
        assert mention.source == "reddit" and mention.external_id.startswith("t1_")
    print(
        f"recorded threads: {walked} comments walked, {fake.count('/api/morechildren/')} morechildren "
        f"calls ({fake.more_misses} not recorded), {len(batch.mentions)} paper links, "
        f"{len({m.paper_id for m in batch.mentions})} papers"
    )


@pytest.mark.shared
def test_extractor_over_every_recorded_comment(shared_data: Path) -> None:
    bodies = [
        b
        for cassette in _recorded(shared_data)
        for step in cassette["interactions"]
        for b in _bodies(_json_or_none(step["response"]["body"]["string"]))
    ]
    assert len(bodies) > 1500
    found = [link for body in bodies for link in find_links(body)]
    for link in found:
        assert link.paper_id and link.url.startswith("https://")
    print(
        f"recorded comment bodies: {len(bodies)}, paper links {len(found)}, "
        f"papers {len({f.paper_id for f in found})}"
    )


def _json_or_none(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return None


def test_reddit_5xx_is_retried_by_prawcore_then_succeeds(fake: FakeReddit) -> None:
    fake.fail("/r/MachineLearning/search/", Failure(503))
    batch = collector(fake).collect({})
    assert len(batch.mentions) == 6
    assert fake.count("/r/MachineLearning/search/") == 2
