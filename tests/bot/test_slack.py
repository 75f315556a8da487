"""Slack delivery through the real slack-sdk against a strict fake Slack on 127.0.0.1."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from bot.config import Niche, SlackChannel
from bot.deliver.slack import MAX_BLOCKS, escape, render_messages, send_slack
from bot.digest.build import build_digest
from bot.digest.send import send_digests
from bot.errors import DeliveryError
from bot.models import Digest
from bot.store import Store
from sources.models import Mention, Paper
from tests.bot.test_digest import (
    ANNOUNCED,
    DAY,
    HOSTILE,
    ListRanker,
    fixture_papers,
    many_papers,
    settings_for,
    stored,
)
from tests.fakes.slack import TOKEN, FakeSlack, block_problems

LINK = re.compile(r"<([^>]*)>")


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def bot_channel(slack: FakeSlack, **extra: Any) -> dict[str, Any]:
    return {
        "type": "slack",
        "token": TOKEN,
        "channel": "#papers",
        "base_url": slack.base_url,
        **extra,
    }


def webhook_channel(slack: FakeSlack) -> dict[str, Any]:
    return {"type": "slack", "webhook_url": slack.webhook_url, "retries": 1}


def digest_of(papers: list[Any], size: int = 7) -> Digest:
    niche = Niche(name="ssm", keywords=["x"], size=size)
    ranking, by_id = ListRanker(papers)(niche, None, ())
    return build_digest(niche, DAY, ranking, by_id, categories=["cs.LG"])


def all_mrkdwn(blocks: list[dict[str, Any]]) -> list[str]:
    texts = []
    for b in blocks:
        if b["type"] == "section":
            texts.append(b["text"]["text"])
        elif b["type"] == "context":
            texts.extend(e["text"] for e in b["elements"])
    return texts


def button_values(messages: list[Any]) -> list[str]:
    return [
        e["value"]
        for m in messages
        for b in m.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "midlist_save"
    ]


def test_short_queue_is_one_message_with_buttons_and_a_fallback(
    store: Store, slack: FakeSlack
) -> None:
    papers = stored(store, fixture_papers())
    settings = settings_for(store, {"team": bot_channel(slack)})
    report = send_digests(settings, store, today=DAY, ranker=ListRanker(papers))
    assert [o.status for o in report.outcomes] == ["sent"]
    [message] = slack.messages
    assert message.channel == "C0PAPERS" and message.thread_ts is None
    assert message.text.startswith(
        "midlist · ssm · 2026-11-19: 4 picks from 4 new cs.LG / cs.AI papers"
    )
    assert button_values([message]) == [f"ssm|{p.id}" for p in papers]
    actions = [b for b in message.blocks if b["type"] == "actions"]
    assert [e["action_id"] for e in actions[0]["elements"]] == [
        "midlist_save",
        "midlist_read",
        "midlist_skip",
    ]
    record = store.digests.get("ssm", "team", DAY.isoformat())
    assert record is not None and record.progress == {
        "send_id": record.progress["send_id"],
        "ts": message.ts,
        "channel_id": "C0PAPERS",
        "parts_sent": 1,
    }


def test_hostile_titles_ping_nobody_and_link_only_to_the_paper(
    store: Store, slack: FakeSlack
) -> None:
    papers = stored(store, fixture_papers())
    store.papers.add_mentions(
        [
            Mention(
                paper_id=HOSTILE,
                source="reddit",
                external_id="c1",
                who="mallory",
                where="https://reddit.com/r/ML/c1",
                context="<!here> go <https://evil.example|click> &amp; win",
            )
        ]
    )
    send_digests(
        settings_for(store, {"team": bot_channel(slack)}),
        store,
        today=DAY,
        ranker=ListRanker(papers),
    )
    [message] = slack.messages
    texts = all_mrkdwn(message.blocks) + [message.text]
    links = [m for t in texts for m in LINK.findall(t)]
    assert links == [
        f"{p.url}|{escape(p.title)}" for p in papers
    ]  # one per item, each to its paper
    joined = "\n".join(texts)
    assert (
        "&lt;!channel&gt; Selective scans are &lt;https://evil.example|arxiv.org&gt; all &amp; you need"
        in joined
    )
    assert "&lt;!here&gt; go &lt;https://evil.example|click&gt; &amp;amp; win" in joined
    assert "Mallory &lt;!everyone&gt; Attacker, Eve &amp; Co" in joined
    assert "<!" not in joined


def test_unicode_and_latex_titles_arrive_as_written(store: Store, slack: FakeSlack) -> None:
    papers = stored(store, fixture_papers())
    send_digests(
        settings_for(store, {"team": bot_channel(slack)}),
        store,
        today=DAY,
        ranker=ListRanker(papers),
    )
    joined = "\n".join(all_mrkdwn(slack.messages[0].blocks))
    assert "Schrödinger-Brücken für lange Sequenzen: 日本語の状態空間モデル 🧪 — “quoted”" in joined
    assert r"$\mathcal{O}(n \log n)$ linear recurrences with $\alpha$-entmax gates" in joined


def test_sixty_papers_become_a_summary_and_a_thread_within_limits(
    store: Store, slack: FakeSlack
) -> None:
    papers = stored(store, many_papers(60))
    settings = settings_for(store, {"team": bot_channel(slack)}, size=60)
    report = send_digests(settings, store, today=DAY, ranker=ListRanker(papers))
    assert report.outcomes[0].status == "sent"
    summary, *replies = slack.messages
    assert summary.thread_ts is None and len(replies) == 6
    assert all(r.thread_ts == summary.ts for r in replies)
    assert all(
        len(m.blocks) <= MAX_BLOCKS and not block_problems(m.__dict__) for m in slack.messages
    )
    assert button_values(replies) == [f"ssm|{p.id}" for p in papers]
    assert "60. <https://arxiv.org/abs/2511.02059|Paper number 60" in "\n".join(
        all_mrkdwn(summary.blocks)
    )
    assert replies[-1].text == "midlist · ssm · 2026-11-19: papers 51-60 of 60"


def test_a_half_posted_thread_resumes_where_it_stopped(store: Store, slack: FakeSlack) -> None:
    papers = stored(store, many_papers(60))
    settings = settings_for(store, {"team": bot_channel(slack, retries=0)}, size=60)
    slack.fail_after = 3  # the summary and two replies get through, then Slack fails
    first = send_digests(settings, store, today=DAY, ranker=ListRanker(papers))
    assert first.outcomes[0].status == "failed"
    assert "internal_error" in first.outcomes[0].detail
    assert len(slack.messages) == 3
    slack.fail_after = None
    second = send_digests(settings, store, today=DAY, ranker=ListRanker(papers[::-1]))
    assert second.outcomes[0].status == "sent"
    assert len(slack.messages) == 7
    assert [m.thread_ts for m in slack.messages[1:]] == [slack.messages[0].ts] * 6
    assert button_values(slack.messages) == [f"ssm|{p.id}" for p in papers]  # no gap, no repeat
    third = send_digests(settings, store, today=DAY, ranker=ListRanker(papers))
    assert third.outcomes[0].status == "already-sent" and len(slack.messages) == 7


def test_a_failed_channel_then_a_good_run_sends_exactly_one_message(
    store: Store, slack: FakeSlack
) -> None:
    papers = stored(store, fixture_papers())
    settings = settings_for(store, {"team": bot_channel(slack, retries=0)})
    slack.server_errors_next = 1
    failed = send_digests(settings, store, today=DAY, ranker=ListRanker(papers))
    assert failed.outcomes[0].status == "failed" and slack.messages == []
    ok = send_digests(settings, store, today=DAY, ranker=ListRanker(papers))
    assert ok.outcomes[0].status == "sent" and len(slack.messages) == 1


def test_429_is_retried_after_retry_after(slack: FakeSlack) -> None:
    slack.rate_limit_next, slack.retry_after = 1, 1
    cfg = SlackChannel.model_validate(bot_channel(slack))
    progress: dict[str, Any] = {}
    started = time.monotonic()
    send_slack("team", cfg, digest_of(fixture_papers()), progress, lambda p: None)
    assert time.monotonic() - started >= 1.0
    assert slack.requests == 2 and len(slack.messages) == 1
    assert progress["parts_sent"] == 1


def test_5xx_is_retried(slack: FakeSlack) -> None:
    slack.server_errors_next = 1
    cfg = SlackChannel.model_validate(bot_channel(slack, retries=2))
    send_slack("team", cfg, digest_of(fixture_papers()), {}, lambda p: None)
    assert slack.requests == 2 and len(slack.messages) == 1


@pytest.mark.parametrize(
    ("config", "code", "hint"),
    [
        ({"channel": "#nowhere"}, "channel_not_found", "check channels.team.channel"),
        ({"token": "xoxb-wrong"}, "invalid_auth", "check channels.team.token"),
    ],
)
def test_ok_false_is_reported_with_slacks_error_code(
    slack: FakeSlack, config: dict[str, Any], code: str, hint: str
) -> None:
    cfg = SlackChannel.model_validate({**bot_channel(slack), **config})
    with pytest.raises(DeliveryError) as caught:
        send_slack("team", cfg, digest_of(fixture_papers()), {}, lambda p: None)
    assert f"error {code!r}" in str(caught.value) and hint in str(caught.value)
    assert caught.value.retryable is False


def test_webhook_posts_the_parts_in_order_without_buttons(store: Store, slack: FakeSlack) -> None:
    papers = stored(store, many_papers(25))
    settings = settings_for(store, {"hook": webhook_channel(slack)}, size=25)
    report = send_digests(settings, store, today=DAY, ranker=ListRanker(papers))
    assert report.outcomes[0].status == "sent"
    assert [m.channel for m in slack.messages] == ["webhook"] * 4
    assert not any(b["type"] == "actions" for m in slack.messages for b in m.blocks)
    assert slack.messages[3].text == "midlist · ssm · 2026-11-19: papers 21-25 of 25"


def test_webhook_refusal_is_a_clear_permanent_error(slack: FakeSlack) -> None:
    slack.error = "no_service"
    cfg = SlackChannel.model_validate(webhook_channel(slack))
    with pytest.raises(
        DeliveryError, match=r"refused the message \(HTTP 400: no_service\); check channels.hook"
    ):
        send_slack("hook", cfg, digest_of(fixture_papers()), {}, lambda p: None)


def test_empty_day_posts_a_plain_note(store: Store, slack: FakeSlack) -> None:
    stored(store, fixture_papers(), announced=ANNOUNCED - timedelta(days=60))  # none new today
    report = send_digests(
        settings_for(store, {"team": bot_channel(slack)}), store, today=DAY, ranker=ListRanker([])
    )
    assert report.outcomes[0].status == "nothing-new"
    [message] = slack.messages
    assert any("Nothing new today" in t for t in all_mrkdwn(message.blocks))
    assert "Nothing new today" in message.text


def test_no_section_exceeds_3000_characters_however_long_the_paper() -> None:
    base = many_papers(1)[0]
    huge = Paper(
        id=base.id, title="&<>" * 400, abstract="x&y " * 2000, authors=("A & B",) * 50, url=base.url
    )
    digest = digest_of([huge])
    wordy = replace(
        digest, items=tuple(replace(i, reasons=("r&" * 99,) * 30) for i in digest.items)
    )
    for buttons in (True, False):
        for message in render_messages(wordy, buttons=buttons):
            assert block_problems({"text": message.text, "blocks": message.blocks}) == []
            for text in all_mrkdwn(message.blocks):
                assert not re.search(r"&(?!amp;|lt;|gt;)", text)  # no entity cut in half


def test_a_niche_name_pings_nobody_in_any_part_of_a_long_queue() -> None:
    digest = replace(digest_of(many_papers(25), size=25), niche="<!channel> & co")
    messages = render_messages(digest, buttons=True)
    assert len(messages) == 4
    for message in messages:
        assert "<!" not in message.text
        assert "&lt;!channel&gt; &amp; co" in message.text


# ---- answers that never came: posted at most once ---------------------------------------------


def test_a_post_slack_took_but_answered_late_is_found_in_history_not_posted_again(
    store: Store, slack: FakeSlack
) -> None:
    papers = stored(store, many_papers(15))
    settings = settings_for(store, {"team": bot_channel(slack, timeout_seconds=1)}, size=15)
    slack.slow_posts, slack.answer_after = 1, 2.5  # the summary is taken, its answer is late
    first = send_digests(settings, store, today=DAY, ranker=ListRanker(papers))
    assert [o.status for o in first.outcomes] == ["uncertain"]
    assert "may have been posted" in first.outcomes[0].detail
    assert len(slack.messages) == 1
    assert slack.messages[0].metadata is not None
    assert slack.messages[0].metadata["event_type"] == "midlist_digest"
    assert [r.day for r in store.digests.uncertain()] == [DAY.isoformat()]

    second = send_digests(settings, store, today=DAY, ranker=ListRanker(papers))
    assert [o.status for o in second.outcomes] == ["sent"]
    assert slack.history_reads == 1
    # the summary once, then its two thread replies under it
    assert len(slack.messages) == 3
    assert [m.thread_ts for m in slack.messages[1:]] == [slack.messages[0].ts] * 2
    assert store.digests.uncertain() == []


def test_a_thread_reply_answered_late_is_looked_for_in_the_thread(
    store: Store, slack: FakeSlack
) -> None:
    papers = stored(store, many_papers(15))
    settings = settings_for(store, {"team": bot_channel(slack, timeout_seconds=1)}, size=15)
    slack.fail_after = 1  # the summary gets through
    send_digests(settings, store, today=DAY, ranker=ListRanker(papers))
    slack.fail_after, slack.slow_posts, slack.answer_after = None, 1, 2.5
    assert send_digests(settings, store, today=DAY).outcomes[0].status == "uncertain"
    assert send_digests(settings, store, today=DAY).outcomes[0].status == "sent"
    assert [m.metadata["event_payload"]["part"] for m in slack.messages if m.metadata] == [0, 1, 2]


def test_a_webhook_post_answered_late_waits_for_resend(store: Store, slack: FakeSlack) -> None:
    papers = stored(store, fixture_papers())
    hook = {**webhook_channel(slack), "timeout_seconds": 1}
    settings = settings_for(store, {"hook": hook})
    slack.slow_posts, slack.answer_after = 1, 2.5
    for _ in range(2):  # the first run, then the daemon's retry: neither posts it again
        report = send_digests(settings, store, today=DAY, ranker=ListRanker(papers))
        assert [o.status for o in report.outcomes] == ["uncertain"]
        assert "midlist digest --resend" in report.outcomes[0].detail
        assert len(slack.messages) == 1
    resent = send_digests(settings, store, today=DAY, resend=True)
    assert [o.status for o in resent.outcomes] == ["sent"]
    assert len(slack.messages) == 2  # on the user's word
    assert store.digests.uncertain() == []


def test_progress_waits_out_a_store_locked_right_after_slack_took_the_post(
    tmp_path: Path, slack: FakeSlack
) -> None:
    """Another process write-locks the database while Slack's answer is on its way: saving the
    progress waits for the lock instead of calling a delivered digest failed."""
    db = tmp_path / "locked.db"
    store = Store(f"sqlite:///{db}", busy_seconds=0.5)
    papers = stored(store, fixture_papers())
    settings = settings_for(store, {"team": bot_channel(slack)})
    holders: list[subprocess.Popen[str]] = []

    def lock_the_store() -> None:
        holder = subprocess.Popen(
            [sys.executable, "-c", LOCK_HOLDER, str(db), "3"], stdout=subprocess.PIPE, text=True
        )
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        holders.append(holder)

    slack.on_accept = lock_the_store
    report = send_digests(settings, store, today=DAY, ranker=ListRanker(papers))
    slack.on_accept = None
    for holder in holders:
        holder.communicate(timeout=30)  # waits, and closes its pipe
    assert [h.returncode for h in holders] == [0]
    assert [o.status for o in report.outcomes] == ["sent"]
    assert len(slack.messages) == 1
    record = store.digests.get("ssm", "team", DAY.isoformat())
    assert record is not None and record.status == "sent" and record.progress["parts_sent"] == 1
    again = send_digests(settings, store, today=DAY, ranker=ListRanker(papers))
    assert [o.status for o in again.outcomes] == ["already-sent"] and len(slack.messages) == 1
    store.close()


LOCK_HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


# ---- rate limits and errors only the user can fix --------------------------------------------


def test_a_retry_after_beyond_the_cap_fails_the_attempt_at_once(slack: FakeSlack) -> None:
    slack.rate_limit_next, slack.retry_after = 1, 86400
    cfg = SlackChannel.model_validate(bot_channel(slack))
    with pytest.raises(DeliveryError, match="asked to wait 86400s; left to the next scheduled run"):
        send_slack("team", cfg, digest_of(fixture_papers()), {}, lambda p: None)
    assert slack.requests == 1 and slack.messages == []


def test_a_retry_after_given_as_an_http_date_is_honoured(slack: FakeSlack) -> None:
    slack.rate_limit_next, slack.retry_after = 1, formatdate(time.time() - 5, usegmt=True)
    cfg = SlackChannel.model_validate(bot_channel(slack))
    send_slack("team", cfg, digest_of(fixture_papers()), {}, lambda p: None)
    assert slack.requests == 2 and len(slack.messages) == 1


def test_a_permanent_error_is_not_retried_until_the_channel_config_changes(
    store: Store, slack: FakeSlack
) -> None:
    papers = stored(store, fixture_papers())
    wrong = settings_for(store, {"team": bot_channel(slack, channel="#nowhere")})
    first = send_digests(wrong, store, today=DAY, ranker=ListRanker(papers))
    assert "channel_not_found" in first.outcomes[0].detail
    asked = slack.requests
    again = send_digests(wrong, store, today=DAY, resume_only=True)
    assert [o.status for o in again.outcomes] == ["failed"]
    assert "not tried again until channels.team changes" in again.outcomes[0].detail
    assert slack.requests == asked  # Slack was not asked again
    fixed = settings_for(store, {"team": bot_channel(slack)})
    assert send_digests(fixed, store, today=DAY).outcomes[0].status == "sent"
    assert len(slack.messages) == 1
