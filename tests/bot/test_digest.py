"""The digest: built from a ranking, rendered as Markdown, recorded before and marked after sending."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.config import Niche, Settings, parse_settings
from bot.deliver.render import md_escape, render_markdown, safe_url
from bot.digest.build import build_digest, clip, short_authors
from bot.digest.send import send_digests
from bot.models import Digest
from bot.store import Store
from bot.store.schema import deliveries, digests, runs
from ranking.models import Pick, Ranking
from sources.models import Mention, Paper
from tests.conftest import FIXTURES, ConfigFile, run_cli

DAY = date(2026, 11, 19)
HOSTILE, UNICODE, LATEX, PLAIN = "2511.01001", "2511.01002", "2511.01003", "2511.01004"


# ---- helpers shared with the Slack and email tests ---------------------------------------------


def fixture_papers() -> list[Paper]:
    raw = json.loads((FIXTURES / "digest" / "papers.json").read_text(encoding="utf-8"))
    return [
        Paper(**{**p, "authors": tuple(p["authors"]), "categories": tuple(p["categories"])})
        for p in raw
    ]


def many_papers(n: int, start: int = 2000) -> list[Paper]:
    return [
        Paper(
            id=f"2511.{start + i:05d}",
            title=f"Paper number {i + 1} on selective state space models",
            abstract="A study of selective scans. " * 30,
            authors=("First Author", "Second Author", "Third Author", "Fourth Author"),
            url=f"https://arxiv.org/abs/2511.{start + i:05d}",
        )
        for i in range(n)
    ]


class ListRanker:
    """Stands in for bot.rank: picks the candidates in the given order, minus what is excluded."""

    def __init__(self, papers: Sequence[Paper], pool: int = 58):
        self.papers = {p.id: p for p in papers}
        self.order = [p.id for p in papers]
        self.pool = pool
        self.calls: list[tuple[set[str], set[str]]] = []

    def __call__(
        self, niche: Niche, ids: Collection[str] | None, exclude: Collection[str]
    ) -> tuple[Ranking, dict[str, Paper]]:
        candidates = [pid for pid in self.order if ids is None or pid in ids]
        self.calls.append((set(candidates), set(exclude)))
        chosen = [pid for pid in candidates if pid not in exclude][: niche.size]
        picks = tuple(
            Pick(pid, 0.5, 15 + i, reasons=("matches 'state space model'", f"percentile {15 + i}"))
            for i, pid in enumerate(chosen)
        )
        return Ranking(picks, self.pool if candidates else 0, len(candidates)), self.papers


def settings_for(store: Store, channels: dict[str, Any], size: int = 7, **niche: Any) -> Settings:
    return parse_settings(
        {
            "storage": {"url": store.url},
            "sources": {"arxiv": {"categories": ["cs.LG", "cs.AI"]}},
            "niches": [
                {
                    "name": "ssm",
                    "keywords": ["state space model"],
                    "size": size,
                    "channels": list(channels),
                    **niche,
                }
            ],
            "channels": channels,
        }
    )


ANNOUNCED = datetime(2026, 11, 18, tzinfo=UTC)  # the day before DAY


def stored(store: Store, papers: Sequence[Paper], announced: datetime = ANNOUNCED) -> list[Paper]:
    """Papers as a collector stores them: arriving now, announced on `announced`."""
    papers = [replace(p, announced=p.announced or announced) for p in papers]
    store.papers.upsert(papers)
    return papers


def count(store: Store, table: Any) -> int:
    with store.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


# ---- building ---------------------------------------------------------------------------------


def test_build_digest_states_its_basis_and_describes_each_pick() -> None:
    papers = fixture_papers()
    ranking, by_id = ListRanker(papers)(Niche(name="ssm", keywords=["x"]), None, ())
    mention = Mention(
        paper_id=PLAIN,
        source="reddit",
        external_id="c1",
        where="https://reddit.com/r/ML/c1",
        who="alice",
        context="Loved the   ablations, especially the <!here> part",
    )
    second = Mention(paper_id=PLAIN, source="reddit", external_id="c2", who="bob")
    listing = Mention(paper_id=PLAIN, source="arxiv", external_id="new")
    digest = build_digest(
        Niche(name="ssm", keywords=["x"]),
        DAY,
        ranking,
        by_id,
        {PLAIN: [mention, second, listing]},
        categories=["cs.LG", "cs.AI"],
    )
    assert digest.basis == "4 picks from 4 new cs.LG / cs.AI papers (58 on-niche), band 15-40%"
    assert digest.title == "midlist · ssm · 2026-11-19"
    item = {i.paper_id: i for i in digest.items}
    assert item[UNICODE].authors == "Zoë Müller, Håkon Ødegård, 李 雷 et al. (5 authors)"
    assert len(item[PLAIN].abstract) <= 420 and item[PLAIN].abstract.endswith("…")
    assert [m.describe() for m in item[PLAIN].mentions] == [
        'discussed on Reddit by 2 people: "Loved the ablations, especially the <!here> part"'
    ]
    assert item[LATEX].title == fixture_papers()[2].title
    assert digest.note == ""


@pytest.mark.parametrize(
    ("candidates", "note"),
    [
        (0, "Nothing new today: no papers arrived since the last digest."),
        (30, "No picks today: 30 new"),
    ],
)
def test_build_digest_says_plainly_when_there_is_nothing(candidates: int, note: str) -> None:
    digest = build_digest(
        Niche(name="ssm", keywords=["x"], band="top"), DAY, Ranking((), 0, candidates), {}
    )
    assert digest.items == ()
    assert digest.note.startswith(note)
    assert digest.basis.endswith("top picks")


def test_digest_payload_round_trips_unchanged() -> None:
    papers = fixture_papers()
    ranking, by_id = ListRanker(papers)(Niche(name="ssm", keywords=["x"]), None, ())
    digest = build_digest(Niche(name="ssm", keywords=["x"]), DAY, ranking, by_id)
    assert Digest.from_json(digest.to_json()) == digest


@pytest.mark.parametrize(
    ("authors", "expected"),
    [
        ((), ""),
        (("A",), "A"),
        (("A", "B", "C"), "A, B, C"),
        (("A", "B", "C", "D"), "A, B, C et al. (4 authors)"),
    ],
)
def test_short_authors(authors: tuple[str, ...], expected: str) -> None:
    assert short_authors(authors) == expected


def test_clip_cuts_at_a_word_and_marks_it() -> None:
    assert clip("one two three four five six", 16) == "one two three…"
    assert clip("  short\n text ", 50) == "short text"


# ---- Markdown ---------------------------------------------------------------------------------


def test_markdown_shows_hostile_titles_as_text() -> None:
    papers = fixture_papers()
    ranking, by_id = ListRanker(papers)(Niche(name="ssm", keywords=["x"]), None, ())
    text = render_markdown(build_digest(Niche(name="ssm", keywords=["x"]), DAY, ranking, by_id))
    quoted_off = re.sub(r"(?m)^> ", "", text)  # the abstract's blockquote marker
    assert re.search(r"(?<!\\)[<>]", quoted_off) is None  # every other angle bracket is escaped
    assert r"\<script\>alert(1)\</script\>" in text
    assert "## 1. [\\<!channel\\> Selective scans are" in text
    assert "(https://arxiv.org/abs/2511.01001)" in text
    assert "Schrödinger-Brücken für lange Sequenzen: 日本語の状態空間モデル 🧪" in text


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://arxiv.org/abs/2511.01001", "https://arxiv.org/abs/2511.01001"),
        ("javascript:alert(1)", ""),
        ("https://x.example/a|b>c (d)", "https://x.example/a%7Cb%3Ec%20%28d%29"),
    ],
)
def test_safe_url(url: str, expected: str) -> None:
    assert safe_url(url) == expected


def test_md_escape_leaves_plain_text_alone() -> None:
    assert md_escape("Plain title: 2 + 2 = 4") == "Plain title: 2 + 2 = 4"


# ---- sending: exactly once ----------------------------------------------------------------------


@pytest.mark.backends  # the digest ledger, on SQLite and PostgreSQL
def test_twice_a_day_sends_once_and_force_resends(store: Store) -> None:
    papers = stored(store, fixture_papers())
    settings = settings_for(store, {"out": {"type": "console"}}, size=2)
    ranker, out = ListRanker(papers), io.StringIO()
    first = send_digests(settings, store, today=DAY, ranker=ranker, console=out)
    second = send_digests(settings, store, today=DAY, ranker=ranker, console=out)
    assert [o.status for o in first.outcomes + second.outcomes] == ["sent", "already-sent"]
    assert out.getvalue().count("# midlist · ssm · 2026-11-19") == 1
    assert len(ranker.calls) == 1

    forced = send_digests(settings, store, today=DAY, ranker=ranker, console=out, force=True)
    assert forced.outcomes[0].status == "sent"
    assert out.getvalue().count("# midlist · ssm · 2026-11-19") == 2
    # a forced rebuild may repeat its own day's papers, never earlier days'
    assert ranker.calls[1][1] == set()
    assert count(store, digests) == 1


def test_a_digest_another_process_recorded_first_is_the_one_sent(store: Store) -> None:
    """Two builds of one day race to record it: the loser sends what the winner stored."""
    papers = stored(store, fixture_papers())
    settings = settings_for(store, {"out": {"type": "console"}}, size=1)
    theirs = build_digest(
        settings.niches[0], DAY, *ListRanker(papers[1:])(settings.niches[0], None, ())
    )

    class Racing(ListRanker):
        def __call__(
            self, niche: Niche, ids: Collection[str] | None, exclude: Collection[str]
        ) -> tuple[Ranking, dict[str, Paper]]:
            store.digests.record("ssm", "out", DAY.isoformat(), theirs.to_json())  # the other one
            return super().__call__(niche, ids, exclude)

    out = io.StringIO()
    report = send_digests(settings, store, today=DAY, ranker=Racing(papers), console=out)
    assert [o.status for o in report.outcomes] == ["sent"]
    assert theirs.paper_ids != [papers[0].id]  # this process's own build would have sent papers[0]
    assert store.digests.delivered_ids("out") == set(theirs.paper_ids)
    assert theirs.items[0].title in out.getvalue()


@pytest.mark.backends  # the digest ledger, on SQLite and PostgreSQL
def test_sent_digest_is_delivered_queued_and_logged_together(store: Store) -> None:
    papers = stored(store, fixture_papers())
    settings = settings_for(store, {"out": {"type": "console"}}, size=3)
    send_digests(settings, store, today=DAY, ranker=ListRanker(papers), console=io.StringIO())
    assert store.digests.delivered_ids("out") == {HOSTILE, UNICODE, LATEX}
    assert {item.paper.id for item in store.queue.list("ssm")} == {HOSTILE, UNICODE, LATEX}
    record = store.digests.get("ssm", "out", DAY.isoformat())
    assert record is not None and record.status == "sent" and record.attempts == 1
    assert [(r.kind, r.target, r.ok) for r in store.state.last_runs("digest")] == [
        ("digest", "ssm/out", True)
    ]


def test_next_day_takes_only_papers_that_arrived_since_and_never_repeats_one(
    store: Store,
) -> None:
    papers = stored(store, fixture_papers())
    settings = settings_for(store, {"out": {"type": "console"}}, size=2)
    ranker = ListRanker(papers + many_papers(2))
    send_digests(settings, store, today=DAY, ranker=ranker, console=io.StringIO())
    # overnight: two new papers, and a new version of one already delivered
    fresh = stored(store, many_papers(2), announced=ANNOUNCED + timedelta(days=1))
    stored(store, [replace(papers[0], version=2, announced=ANNOUNCED + timedelta(days=1))])
    report = send_digests(
        settings, store, today=DAY + timedelta(days=1), ranker=ranker, console=io.StringIO()
    )
    assert report.outcomes[0].digest is not None
    assert report.outcomes[0].digest.paper_ids == [p.id for p in fresh]
    assert ranker.calls[0][0] == {p.id for p in papers}
    candidates, exclude = ranker.calls[1]
    assert candidates == {p.id for p in fresh}  # arrived since yesterday's digest, nothing else
    assert exclude == {HOSTILE, UNICODE}


def test_empty_day_is_sent_as_a_plain_note(store: Store) -> None:
    # papers announced long ago (a bulk import of history): none is new today
    stored(store, fixture_papers(), announced=ANNOUNCED - timedelta(days=60))
    settings = settings_for(store, {"out": {"type": "console"}})
    out = io.StringIO()
    report = send_digests(settings, store, today=DAY, ranker=ListRanker([]), console=out)
    assert report.outcomes[0].status == "nothing-new"
    assert "Nothing new today" in out.getvalue()
    assert "arXiv announces nothing on Friday and Saturday nights" in out.getvalue()


@pytest.mark.backends  # the digest ledger, on SQLite and PostgreSQL
def test_failure_between_record_and_send_is_resent_unchanged_once(
    store: Store, tmp_path: Path
) -> None:
    papers = stored(store, fixture_papers())
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a directory should be")
    broken = settings_for(
        store, {"archive": {"type": "file", "path": str(blocker / "{niche}-{date}.md")}}, size=2
    )
    first = send_digests(broken, store, today=DAY, ranker=ListRanker(papers), console=io.StringIO())
    assert first.outcomes[0].status == "failed"
    assert "cannot write" in first.outcomes[0].detail
    record = store.digests.get("ssm", "archive", DAY.isoformat())
    assert record is not None and record.status == "failed" and record.attempts == 1
    assert count(store, deliveries) == 0

    # the ranking changed overnight, but the recorded digest is what gets sent
    fixed = settings_for(
        store,
        {"archive": {"type": "file", "path": str(tmp_path / "out" / "{niche}-{date}.md")}},
        size=2,
    )
    second = send_digests(
        fixed, store, today=DAY, ranker=ListRanker(papers[::-1]), console=io.StringIO()
    )
    assert second.outcomes[0].status == "sent"
    written = list((tmp_path / "out").iterdir())
    assert [p.name for p in written] == ["ssm-2026-11-19.md"]
    assert written[0].read_text(encoding="utf-8") == render_markdown(
        Digest.from_json(record.payload)
    )
    assert store.digests.delivered_ids("archive") == {HOSTILE, UNICODE}
    assert [r.ok for r in _runs(store)] == [False, True]


def test_one_failing_channel_does_not_stop_the_others(store: Store, tmp_path: Path) -> None:
    papers = stored(store, fixture_papers())
    blocker = tmp_path / "file"
    blocker.write_text("")
    settings = settings_for(
        store,
        {"broken": {"type": "file", "path": str(blocker / "x.md")}, "out": {"type": "console"}},
        size=2,
    )
    report = send_digests(
        settings, store, today=DAY, ranker=ListRanker(papers), console=io.StringIO()
    )
    assert [(o.channel, o.status) for o in report.outcomes] == [
        ("broken", "failed"),
        ("out", "sent"),
    ]
    assert not report.ok


def test_file_channel_writes_html_with_date_and_niche(store: Store, tmp_path: Path) -> None:
    papers = stored(store, fixture_papers())
    path = str(tmp_path / "digests" / "{niche}" / "{date}.html")
    settings = settings_for(store, {"archive": {"type": "file", "path": path, "format": "html"}})
    send_digests(settings, store, today=DAY, ranker=ListRanker(papers), console=io.StringIO())
    html = (tmp_path / "digests" / "ssm" / "2026-11-19.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html
    assert 'href="https://arxiv.org/abs/2511.01004"' in html


def test_dry_run_shows_what_would_be_sent_and_records_nothing(store: Store) -> None:
    papers = stored(store, fixture_papers())
    settings = settings_for(store, {"out": {"type": "console"}}, size=2)
    out = io.StringIO()
    report = send_digests(
        settings, store, today=DAY, ranker=ListRanker(papers), dry_run=True, console=out
    )
    assert report.outcomes[0].status == "dry-run"
    assert report.outcomes[0].detail.startswith(
        "# midlist · ssm · 2026-11-19\n\n2 picks from 4 new"
    )
    assert out.getvalue() == ""
    assert (count(store, digests), count(store, deliveries), count(store, runs)) == (0, 0, 0)


def test_cli_dry_run_prints_the_recorded_payload(store: Store, config_file: ConfigFile) -> None:
    """A pending digest (recorded, then the process died) is what --dry-run shows, unchanged."""
    digest, config = _pending_digest_and_config(store, config_file)
    result = run_cli(config, "digest", "--dry-run", "--date", "2026-11-19")
    assert result.exit_code == 0, result.output
    assert result.stdout == "<!-- niche ssm -> channel out -->\n" + render_markdown(digest) + "\n"
    assert store.digests.get("ssm", "out", DAY.isoformat()).status == "pending"  # type: ignore[union-attr]


def test_cli_digest_sends_and_then_reports_already_sent(
    store: Store, config_file: ConfigFile
) -> None:
    digest, config = _pending_digest_and_config(store, config_file)
    args = ["digest", "--date", "2026-11-19"]
    first = run_cli(config, *args)
    assert first.exit_code == 0, first.output
    assert first.stdout == render_markdown(digest)
    assert "ssm -> out: sent 2 picks from 4 new" in first.stderr
    second = run_cli(config, *args)
    assert second.exit_code == 0 and second.stdout == ""
    assert "ssm -> out: already-sent" in second.stderr


def _pending_digest_and_config(store: Store, config_file: ConfigFile) -> tuple[Digest, Path]:
    """A digest recorded as pending (as if the process died before sending) and a config file."""
    papers = stored(store, fixture_papers())
    ranking, by_id = ListRanker(papers)(Niche(name="ssm", keywords=["x"]), None, ())
    digest = build_digest(Niche(name="ssm", keywords=["x"], size=2), DAY, ranking, by_id)
    store.digests.record("ssm", "out", DAY.isoformat(), digest.to_json())
    config = config_file(
        storage={"url": store.url},
        niches=[{"name": "ssm", "keywords": ["state space model"], "channels": ["out"]}],
        channels={"out": {"type": "console"}},
    )
    return digest, config


def _runs(store: Store) -> list[Any]:
    with store.connect() as conn:
        return list(conn.execute(select(runs).order_by(runs.c.id)))


def test_a_failing_ranker_fails_the_channel_without_raising(store: Store) -> None:
    def broken(niche: Niche, ids: Collection[str], exclude: Collection[str]) -> Any:
        raise RuntimeError("index is missing; run midlist collect")

    stored(store, fixture_papers())
    settings = settings_for(store, {"out": {"type": "console"}})
    report = send_digests(settings, store, today=DAY, ranker=broken, console=io.StringIO())
    assert [(o.status, o.detail) for o in report.outcomes] == [
        ("failed", "RuntimeError: index is missing; run midlist collect")
    ]
    assert (
        store.digests.get("ssm", "out", DAY.isoformat()) is None
    )  # nothing built, nothing recorded
    assert [r.ok for r in _runs(store)] == [False]


@pytest.mark.backends  # the digest ledger, on SQLite and PostgreSQL
def test_two_niches_failing_on_one_channel_never_send_it_a_paper_twice(
    store: Store, tmp_path: Path
) -> None:
    """Both digests are recorded while the channel is down; when it is back, each is resent as
    recorded, so the second must not have taken the first one's papers."""
    papers = stored(store, fixture_papers())
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")

    def settings(path: str) -> Settings:
        base = settings_for(store, {"archive": {"type": "file", "path": path}}, size=2)
        other = base.niches[0].model_copy(update={"name": "ssm2"})
        return base.model_copy(update={"niches": [base.niches[0], other]})

    broken = settings(str(blocker / "{niche}.md"))
    first = send_digests(broken, store, today=DAY, ranker=ListRanker(papers))
    assert [o.status for o in first.outcomes] == ["failed", "failed"]
    fixed = settings(str(tmp_path / "{niche}.md"))
    second = send_digests(fixed, store, today=DAY, ranker=ListRanker(papers))
    assert [o.status for o in second.outcomes] == ["sent", "sent"]
    sent = [pid for o in second.outcomes if o.digest for pid in o.digest.paper_ids]
    assert sorted(sent) == [HOSTILE, UNICODE, LATEX, PLAIN]


@pytest.mark.backends  # the digest ledger, on SQLite and PostgreSQL
def test_a_digest_another_process_is_sending_is_left_to_it(store: Store) -> None:
    papers = stored(store, fixture_papers())
    settings = settings_for(store, {"out": {"type": "console"}}, size=2)
    other = Store(store.url)  # a second process on the same database, mid-send
    payload = Digest(niche="ssm", day=DAY.isoformat(), basis="recorded elsewhere").to_json()
    record = other.digests.record("ssm", "out", DAY.isoformat(), payload)
    assert other.digests.claim(record.id)
    out = io.StringIO()
    report = send_digests(settings, store, today=DAY, ranker=ListRanker(papers), console=out)
    assert [o.status for o in report.outcomes] == ["in-progress"]
    assert out.getvalue() == ""
    other.digests.mark_sent(record.id, "ssm", "out", [])
    assert not store.digests.claim(record.id)  # a sent digest can never be claimed again
    other.close()


@pytest.mark.backends  # the digest ledger, on SQLite and PostgreSQL
def test_a_claim_left_by_a_dead_process_expires(store: Store) -> None:
    record = store.digests.record("ssm", "out", DAY.isoformat(), "{}")
    assert store.digests.claim(record.id)
    assert not store.digests.claim(record.id)
    assert store.digests.claim(record.id, stale_after=timedelta(0))


def test_a_digest_that_failed_yesterday_is_sent_before_today(store: Store, tmp_path: Path) -> None:
    papers = stored(store, fixture_papers())
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    path = {"type": "file", "path": str(blocker / "{niche}-{date}.md")}
    broken = settings_for(store, {"archive": path}, size=1)
    ranker = ListRanker(papers)
    assert send_digests(broken, store, today=DAY, ranker=ranker).outcomes[0].status == "failed"

    fixed = settings_for(
        store, {"archive": {"type": "file", "path": str(tmp_path / "{niche}-{date}.md")}}, size=1
    )
    report = send_digests(fixed, store, today=DAY + timedelta(days=1), ranker=ranker)
    assert [(o.status, o.digest.day) for o in report.outcomes if o.digest] == [
        ("sent", "2026-11-19"),
        ("nothing-new", "2026-11-20"),  # nothing arrived after the 19th's digest was built
    ]
    assert sorted(p.name for p in tmp_path.glob("ssm-*.md")) == [
        "ssm-2026-11-19.md",
        "ssm-2026-11-20.md",
    ]
    assert store.digests.delivered_ids("archive") == {HOSTILE}


def test_papers_the_user_already_saved_or_skipped_are_not_picked(store: Store) -> None:
    papers = stored(store, fixture_papers())
    store.queue.mark("ssm", HOSTILE, "skipped")
    store.queue.mark("ssm", UNICODE, "saved")
    settings = settings_for(store, {"out": {"type": "console"}}, size=2)
    ranker = ListRanker(papers)
    report = send_digests(settings, store, today=DAY, ranker=ranker, console=io.StringIO())
    assert report.outcomes[0].digest is not None
    assert report.outcomes[0].digest.paper_ids == [LATEX, PLAIN]
    assert ranker.calls[0][1] == {HOSTILE, UNICODE}


def test_resume_only_resends_failed_digests_and_builds_nothing_new(
    store: Store, tmp_path: Path
) -> None:
    papers = stored(store, fixture_papers())
    ranker = ListRanker(papers)
    fresh = settings_for(store, {"archive": {"type": "file", "path": str(tmp_path / "{date}.md")}})
    assert send_digests(fresh, store, today=DAY, ranker=ranker, resume_only=True).outcomes == []
    assert ranker.calls == []  # nothing recorded, so nothing to resend and nothing built

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    broken = settings_for(store, {"archive": {"type": "file", "path": str(blocker / "{date}.md")}})
    assert send_digests(broken, store, today=DAY, ranker=ranker).outcomes[0].status == "failed"
    report = send_digests(fresh, store, today=DAY, ranker=ranker, resume_only=True)
    assert [o.status for o in report.outcomes] == ["sent"]
    assert (tmp_path / "2026-11-19.md").exists()
    assert len(ranker.calls) == 1  # the retry resent the recorded digest, it did not rank again


def test_an_empty_store_is_an_error_that_says_what_to_do(store: Store) -> None:
    settings = settings_for(store, {"out": {"type": "console"}})
    out = io.StringIO()
    report = send_digests(settings, store, today=DAY, ranker=ListRanker([]), console=out)
    assert [o.status for o in report.outcomes] == ["failed"]
    assert "no papers yet: run `midlist collect`" in report.outcomes[0].detail
    assert out.getvalue() == ""
    assert store.digests.get("ssm", "out", DAY.isoformat()) is None  # nothing recorded to resend


# ---- the real ranker: new means arrived since the last digest and announced lately ------------

TOPICS = {
    "ssm": ("Selective state space model for long sequences {n}", "state space model scan"),
    "bio": ("Protein folding with contact maps {n}", "protein folding residues"),
}


FIELDS = (
    "speech recognition with noisy microphones",
    "genomics pipelines and sequencing reads",
    "weather forecasting over oceans",
    "robot locomotion on rough terrain",
    "music generation from symbolic scores",
    "financial time series and volatility",
    "video understanding of sports matches",
    "traffic prediction in dense cities",
    "legal document retrieval",
    "chemistry reaction yield estimation",
    "satellite imagery of crops",
)


def topical(topic: str, start: int, n: int, announced: datetime) -> list[Paper]:
    title, words = TOPICS[topic]
    return [
        Paper(
            id=f"2511.{start + i:05d}",
            title=title.format(n=start + i),
            abstract=f"We study {words} for {FIELDS[i % len(FIELDS)]}: {FIELDS[(i * 7 + 3) % len(FIELDS)]}.",
            authors=("A. Author",),
            url=f"https://arxiv.org/abs/2511.{start + i:05d}",
            published=announced - timedelta(days=3),
            announced=announced,
        )
        for i in range(n)
    ]


def real_settings(store: Store, tmp_path: Path, keywords: list[str]) -> Settings:
    base = settings_for(store, {"out": {"type": "console"}}, size=20, band="top")
    storage = base.storage.model_copy(update={"index_dir": str(tmp_path / "index")})
    niche = base.niches[0].model_copy(update={"keywords": keywords})
    return base.model_copy(update={"storage": storage, "niches": [niche]})


def test_real_ranker_picks_only_on_niche_papers_announced_lately_and_new_since_the_last(
    store: Store, tmp_path: Path
) -> None:
    imported = topical("ssm", 100, 30, ANNOUNCED - timedelta(days=90))  # history: not news
    fresh = topical("ssm", 200, 5, ANNOUNCED)
    store.papers.upsert(imported + fresh + topical("bio", 300, 20, ANNOUNCED))
    settings = real_settings(store, tmp_path, ["state space model"])
    first = send_digests(settings, store, today=DAY, console=io.StringIO())
    assert [o.status for o in first.outcomes] == ["sent"]
    assert first.outcomes[0].digest is not None
    assert sorted(first.outcomes[0].digest.paper_ids) == [p.id for p in fresh]
    assert first.outcomes[0].digest.candidates == 25  # what arrived and was announced lately

    # the next day: one more on-niche paper, and a new version of one delivered yesterday
    later = topical("ssm", 400, 1, ANNOUNCED + timedelta(days=1))
    store.papers.upsert(later + [replace(fresh[0], version=2, announced=later[0].announced)])
    second = send_digests(settings, store, today=DAY + timedelta(days=1), console=io.StringIO())
    assert second.outcomes[0].digest is not None
    assert second.outcomes[0].digest.paper_ids == [later[0].id]


def test_real_ranker_tells_nothing_arrived_from_nothing_matched(
    store: Store, tmp_path: Path
) -> None:
    store.papers.upsert(topical("bio", 300, 30, ANNOUNCED))
    out = io.StringIO()
    settings = real_settings(store, tmp_path, ["state space model"])
    report = send_digests(settings, store, today=DAY, console=out)
    assert [o.status for o in report.outcomes] == ["nothing-new"]
    assert "30 new cs.LG / cs.AI papers arrived, but none matched this niche" in out.getvalue()
    quiet = send_digests(settings, store, today=DAY + timedelta(days=1), console=out)
    assert [o.status for o in quiet.outcomes] == ["nothing-new"]
    assert "Nothing new today: no papers arrived since the last digest" in out.getvalue()
