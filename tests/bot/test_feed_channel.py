"""The `feed` channel: digests appended to an Atom feed (feedgen), read back with feedparser as a
feed reader would, under the same exactly-once ledger as the other channels."""

from __future__ import annotations

import io
import multiprocessing
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import feedparser
import pytest

from bot.config import FeedChannel, load_settings
from bot.deliver.feed import entry_id, write_feed
from bot.digest.send import send_digests
from bot.errors import ConfigError
from bot.models import Digest
from bot.store import Store
from tests.bot.test_digest import DAY, HOSTILE, ListRanker, fixture_papers, settings_for, stored
from tests.bot.test_slack import digest_of
from tests.conftest import ConfigFile


def feed_settings(store: Store, path: Path, size: int = 2, **channel: Any):  # type: ignore[no-untyped-def]
    return settings_for(
        store, {"reader": {"type": "feed", "path": str(path), **channel}}, size=size
    )


def parsed(path: Path) -> Any:
    feed = feedparser.parse(path.read_bytes())
    assert feed.version == "atom10" and not feed.bozo, feed.get("bozo_exception")
    return feed


def test_each_digest_appends_its_picks_newest_first(store: Store, tmp_path: Path) -> None:
    papers = fixture_papers()
    path = tmp_path / "feeds" / "{niche}.xml"
    settings = feed_settings(store, path)
    ranker = ListRanker(papers)
    for day, arriving in ((DAY, papers[:2]), (date(2026, 11, 20), papers[2:4])):
        stored(store, arriving)  # a digest takes what arrived since the one before
        report = send_digests(settings, store, today=day, ranker=ranker, console=io.StringIO())
        assert [o.status for o in report.outcomes] == ["sent"]
    feed = parsed(tmp_path / "feeds" / "ssm.xml")
    assert feed.feed.title == "midlist · ssm"
    ids = [e.id for e in feed.entries]
    first, second = [p.id for p in papers[:2]], [p.id for p in papers[2:4]]
    assert ids == [entry_id("ssm", "2026-11-20", p) for p in second] + [
        entry_id("ssm", "2026-11-19", p) for p in first
    ]
    by_id = {p.id: p for p in papers}
    hostile = next(e for e in feed.entries if e.id.endswith(HOSTILE))
    assert hostile.title == " ".join(by_id[HOSTILE].title.split())  # text, never markup
    assert hostile.link == f"https://arxiv.org/abs/{HOSTILE}"
    assert hostile.summary.startswith("Why: matches 'state space model'")
    assert [t.term for t in hostile.tags] == ["ssm"]
    assert store.digests.delivered_ids("reader") == set(first + second)


def test_a_digest_sent_once_is_not_appended_again(store: Store, tmp_path: Path) -> None:
    papers = stored(store, fixture_papers())
    settings = feed_settings(store, tmp_path / "ssm.xml")
    for _ in range(2):
        send_digests(settings, store, today=DAY, ranker=ListRanker(papers), console=io.StringIO())
    assert len(parsed(tmp_path / "ssm.xml").entries) == 2


def test_a_resend_after_a_crash_between_writing_and_marking_adds_nothing_twice(
    store: Store, tmp_path: Path
) -> None:
    """The feed was written, then the process died before the digest was marked sent: the next
    run resends the recorded digest and the feed still holds each paper once."""
    papers = stored(store, fixture_papers())
    settings = feed_settings(store, tmp_path / "ssm.xml")
    dry = send_digests(
        settings, store, today=DAY, ranker=ListRanker(papers), dry_run=True, console=io.StringIO()
    )
    digest = dry.outcomes[0].digest
    assert digest is not None
    store.digests.record("ssm", "reader", DAY.isoformat(), digest.to_json())
    write_feed("reader", settings.channels["reader"], digest)  # ... and then the crash

    report = send_digests(
        settings, store, today=DAY, ranker=ListRanker(papers[::-1]), console=io.StringIO()
    )
    assert [o.status for o in report.outcomes] == ["sent"]
    entries = parsed(tmp_path / "ssm.xml").entries
    assert [e.id for e in entries] == [
        entry_id("ssm", DAY.isoformat(), p) for p in digest.paper_ids
    ]


def test_max_entries_keeps_the_newest(tmp_path: Path) -> None:
    cfg = FeedChannel(type="feed", path=str(tmp_path / "f.xml"), max_entries=3)
    base = digest_of(fixture_papers(), size=2)
    for day in ("2026-11-19", "2026-11-20", "2026-11-21"):
        write_feed("reader", cfg, replace(base, day=day))
    ids = [e.id for e in parsed(tmp_path / "f.xml").entries]
    assert len(ids) == 3
    assert [i.split(":")[3] for i in ids] == ["2026-11-21", "2026-11-21", "2026-11-20"]


def test_a_day_with_nothing_new_still_leaves_a_valid_feed(tmp_path: Path) -> None:
    cfg = FeedChannel(type="feed", path=str(tmp_path / "f.xml"))
    write_feed("reader", cfg, Digest(niche="ssm", day="2026-11-19", basis="", note="Nothing new"))
    assert parsed(tmp_path / "f.xml").entries == []


def test_a_file_that_is_not_a_feed_is_never_overwritten(store: Store, tmp_path: Path) -> None:
    papers = stored(store, fixture_papers())
    path = tmp_path / "notes.xml"
    path.write_text("my own notes, not a feed", encoding="utf-8")
    report = send_digests(
        feed_settings(store, path),
        store,
        today=DAY,
        ranker=ListRanker(papers),
        console=io.StringIO(),
    )
    assert report.outcomes[0].status == "failed"
    assert "is not an Atom feed; move it away" in report.outcomes[0].detail
    assert path.read_text(encoding="utf-8") == "my own notes, not a feed"


def _append(path: str, day: str) -> None:
    cfg = FeedChannel(type="feed", path=path)
    write_feed("reader", cfg, replace(digest_of(fixture_papers(), size=2), day=day))


def test_processes_appending_at_once_lose_no_entry(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.xml")
    days = [f"2026-11-{d:02d}" for d in range(1, 5)]
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_append, args=(path, day)) for day in days]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    entries = parsed(Path(path)).entries
    assert sorted({e.id.split(":")[3] for e in entries}) == days
    assert len(entries) == 2 * len(days)


def test_feed_channel_config(tmp_path: Path, config_file: ConfigFile) -> None:
    config = config_file(
        channels={"reader": {"type": "feed"}, "odd": {"type": "feed", "path": "x/{date}.xml"}}
    )
    with pytest.raises(ConfigError, match=r"channels\.odd\.path: .*only \{niche\} can be filled"):
        load_settings(config)
    config = config_file(channels={"reader": {"type": "feed", "max_entries": 20}})
    channel = load_settings(config).channels["reader"]
    assert isinstance(channel, FeedChannel)
    assert channel.path == str(tmp_path / "feeds" / "{niche}.xml")  # beside the config
    assert channel.max_entries == 20
