"""Email delivery through the real smtplib against a real aiosmtpd server on 127.0.0.1, and the
HTML digest rendered by headless Chromium."""

from __future__ import annotations

import asyncio
import html
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from bot.config import EmailChannel
from bot.deliver.mailer import send_email
from bot.deliver.render import render_html
from bot.errors import DeliveryError, DeliveryUncertain
from bot.store import Store
from tests.bot.test_digest import DAY, ListRanker, fixture_papers, settings_for, stored
from tests.bot.test_slack import digest_of
from tests.browser import ink_rows, run_chromium
from tests.conftest import ConfigFile, run_cli

USER, PASSWORD = "reader", "s3cret-pass"
# aiosmtpd warns that AUTH without TLS is unsafe: true, and fine for a server on 127.0.0.1
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


class Inbox:
    """An SMTP handler that keeps what it accepts and can answer 451 a given number of times."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.received: list[EmailMessage] = []
        self.envelopes: list[Any] = []
        self.data_attempts = 0
        self.fail_next = 0
        self.confirm_after = 0.0  # take the next message, then answer its end of DATA this late
        self.logins: list[tuple[str, bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.data_attempts += 1
        if self.fail_next > 0:
            self.fail_next -= 1
            return "451 4.3.0 Mailbox busy, try again later"
        self.envelopes.append(envelope)
        self.received.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        late, self.confirm_after = self.confirm_after, 0.0
        await asyncio.sleep(late)
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        self.logins.append((mechanism, auth_data.login))
        ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)  # not handled: the server answers 535 itself


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=inbox.authenticate,
        auth_required=True,
        auth_require_tls=False,
        auth_exclude_mechanism=["PLAIN"],  # so the client logs in with AUTH LOGIN
    )
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def smtp(smtp_server: tuple[Inbox, int]) -> tuple[Inbox, int]:
    smtp_server[0].reset()
    return smtp_server


def email_channel(port: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "email",
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "username": USER,
        "password": PASSWORD,
        "from": "midlist <bot@example.org>",
        "to": ["reader@example.org", "second@example.org"],
        "timeout_seconds": 5,
        "retries": 2,
        **extra,
    }


def parts(message: EmailMessage) -> dict[str, str]:
    return {
        part.get_content_type(): part.get_content()
        for part in message.walk()
        if not part.is_multipart()
    }


def test_digest_email_is_multipart_with_date_message_id_and_escaped_html(
    store: Store, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    papers = stored(store, fixture_papers())
    report = send_digests_to(store, email_channel(port), papers)
    assert [o.status for o in report.outcomes] == ["sent"]
    [message] = inbox.received
    assert inbox.envelopes[0].rcpt_tos == ["reader@example.org", "second@example.org"]
    assert inbox.logins == [("LOGIN", USER.encode())]
    assert message["Subject"] == "midlist · ssm · 2026-11-19: 4 papers"
    assert parsedate_to_datetime(message["Date"]).tzinfo is not None
    record = store.digests.get("ssm", "mail", DAY.isoformat())
    assert record is not None and message["Message-ID"] == record.progress["message_id"]
    assert message["Message-ID"].endswith("@example.org>")
    assert message.get_content_type() == "multipart/alternative"
    body = parts(message)
    assert set(body) == {"text/plain", "text/html"}
    assert (
        "&lt;!channel&gt; Selective scans are &lt;https://evil.example|arxiv.org&gt; all &amp; you need"
        in body["text/html"]
    )
    assert "<script" not in body["text/html"] and "<img" not in body["text/html"]
    assert "Schrödinger-Brücken für lange Sequenzen: 日本語の状態空間モデル 🧪" in body["text/html"]
    assert (
        body["text/plain"]
        .replace("\r\n", "\n")
        .startswith("# midlist · ssm · 2026-11-19\n\n4 picks")
    )


def test_a_transient_failure_is_retried_within_the_run(
    store: Store, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    inbox.fail_next = 1
    report = send_digests_to(store, email_channel(port), stored(store, fixture_papers()))
    assert report.outcomes[0].status == "sent"
    assert (inbox.data_attempts, len(inbox.received)) == (2, 1)


def test_a_failed_send_is_resent_next_run_once_with_the_same_message_id(
    store: Store, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    papers = stored(store, fixture_papers())
    inbox.fail_next = 1
    first = send_digests_to(store, email_channel(port, retries=0), papers)
    assert first.outcomes[0].status == "failed"
    assert "451 4.3.0 Mailbox busy" in first.outcomes[0].detail
    pending = store.digests.get("ssm", "mail", DAY.isoformat())
    assert pending is not None and pending.status == "failed"
    second = send_digests_to(store, email_channel(port, retries=0), papers[::-1])
    assert second.outcomes[0].status == "sent"
    [message] = inbox.received
    assert message["Message-ID"] == pending.progress["message_id"]
    assert send_digests_to(store, email_channel(port), papers).outcomes[0].status == "already-sent"
    assert len(inbox.received) == 1


def test_a_refused_login_is_reported_at_once(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    cfg = EmailChannel.model_validate(email_channel(port, password="wrong"))
    with pytest.raises(
        DeliveryError, match="refused the login .*check channels.mail.username and password"
    ) as caught:
        send_email("mail", cfg, digest_of(fixture_papers()), {}, lambda p: None)
    assert caught.value.retryable is False
    assert inbox.logins == [("LOGIN", USER.encode())] and inbox.received == []  # tried once


def test_starttls_against_a_server_without_it_fails_clearly(smtp: tuple[Inbox, int]) -> None:
    _, port = smtp
    cfg = EmailChannel.model_validate(email_channel(port, security="starttls", retries=0))
    with pytest.raises(DeliveryError, match="STARTTLS extension not supported"):
        send_email("mail", cfg, digest_of(fixture_papers()), {}, lambda p: None)


def test_unreachable_server_is_a_retryable_delivery_error() -> None:
    cfg = EmailChannel.model_validate(email_channel(free_port(), retries=1))
    with pytest.raises(DeliveryError, match="failed 2 times: ConnectionRefusedError") as caught:
        send_email("mail", cfg, digest_of(fixture_papers()), {}, lambda p: None)
    assert caught.value.retryable is True


def send_digests_to(store: Store, channel: dict[str, Any], papers: Any, **flags: Any) -> Any:
    from bot.digest.send import send_digests

    settings = settings_for(store, {"mail": channel})
    return send_digests(settings, store, today=DAY, ranker=ListRanker(papers), **flags)


# ---- a server that answers late, or never stops greeting -----------------------------------------


def test_a_late_confirmation_of_the_data_is_uncertain_and_not_resent_without_the_user(
    store: Store, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    papers = stored(store, fixture_papers())
    channel = email_channel(port, data_timeout_seconds=0.5)
    inbox.confirm_after = 2.0
    for _ in range(2):  # the first run, then the daemon's retry: neither mails it again
        report = send_digests_to(store, channel, papers)
        assert [o.status for o in report.outcomes] == ["uncertain"]
        assert "midlist digest --resend" in report.outcomes[0].detail
        assert len(inbox.received) == 1
    [record] = store.digests.uncertain()
    assert "no answer after the end of DATA" in record.progress["uncertain"]
    resent = send_digests_to(store, channel, papers, resend=True)
    assert [o.status for o in resent.outcomes] == ["sent"]
    assert len(inbox.received) == 2  # on the user's word, with the same Message-ID
    assert inbox.received[0]["Message-ID"] == inbox.received[1]["Message-ID"]
    assert store.digests.uncertain() == []


def test_replies_other_than_the_data_one_wait_the_reply_timeout_not_the_connect_timeout(
    smtp: tuple[Inbox, int],
) -> None:
    inbox, port = smtp
    inbox.confirm_after = 1.0  # longer than the connect timeout, shorter than the DATA timeout
    cfg = EmailChannel.model_validate(email_channel(port, timeout_seconds=0.5))
    progress: dict[str, Any] = {}
    send_email("mail", cfg, digest_of(fixture_papers()), progress, lambda p: None)
    assert progress["sent"] is True and len(inbox.received) == 1


def test_an_endless_greeting_fails_at_the_reply_deadline(tmp_path: Path) -> None:
    """`220-` continuation lines forever: each line arrives well within any per-read timeout, so
    only a deadline for the whole reply ends it."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def greet_forever() -> None:
        conn, _ = server.accept()
        with conn:
            while not stop.is_set():
                try:
                    conn.sendall(b"220-still greeting you\r\n")
                except OSError:
                    return
                stop.wait(0.05)

    thread = threading.Thread(target=greet_forever, daemon=True)
    thread.start()
    port = server.getsockname()[1]
    cfg = EmailChannel.model_validate(email_channel(port, reply_timeout_seconds=1, retries=0))
    try:
        with pytest.raises(DeliveryError, match="no complete reply within 1s") as caught:
            send_email("mail", cfg, digest_of(fixture_papers()), {}, lambda p: None)
        assert not isinstance(caught.value, DeliveryUncertain)  # nothing was sent
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()


# ---- the HTML in a real browser ---------------------------------------------------------------


@pytest.mark.browser
def test_html_digest_renders_its_titles_on_a_phone_sized_screen(tmp_path: Path) -> None:
    papers = fixture_papers()
    page = tmp_path / "digest.html"
    page.write_text(render_html(digest_of(papers)), encoding="utf-8")
    raw = run_chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    for paper in papers:
        assert paper.title in html.unescape(raw)
    # hostile markup is text in the page, never an element
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw and "<script" not in raw
    assert "&lt;img src=x onerror=alert(1)&gt;" in raw and "<img" not in raw

    # the same digest with the titles blanked: the rows of text it loses are the titles' rows
    untitled = tmp_path / "untitled.html"
    digest = digest_of(papers)
    blanked = replace(digest, items=tuple(replace(i, title="") for i in digest.items))
    untitled.write_text(render_html(blanked), encoding="utf-8")
    shot, untitled_shot = tmp_path / "digest.png", tmp_path / "untitled.png"
    run_chromium(tmp_path, f"--screenshot={shot}", page.as_uri())
    run_chromium(tmp_path, f"--screenshot={untitled_shot}", untitled.as_uri())
    with_titles, without = ink_rows(shot), ink_rows(untitled_shot)
    assert without > 100  # header, authors, reasons, abstracts
    # nine lines of 18px titles at 420px wide: well over 100 rows of ink
    assert with_titles - without > 100


def test_a_sent_email_is_not_sent_again_when_marking_it_sent_failed(
    smtp: tuple[Inbox, int],
) -> None:
    """The mail went out, then the process died before the digest was marked sent: the next
    run finds the saved progress and does not mail the readers a second time."""
    inbox, port = smtp
    cfg = EmailChannel.model_validate(email_channel(port))
    saved: list[dict[str, Any]] = []
    progress: dict[str, Any] = {}
    send_email("mail", cfg, digest_of(fixture_papers()), progress, lambda p: saved.append(dict(p)))
    send_email("mail", cfg, digest_of(fixture_papers()), dict(saved[-1]), lambda p: None)
    assert len(inbox.received) == 1


def test_status_lists_an_uncertain_mail_and_the_cli_resends_it_on_request(
    store: Store, smtp: tuple[Inbox, int], config_file: ConfigFile
) -> None:
    inbox, port = smtp
    stored(store, fixture_papers())
    config = config_file(
        niches=[{"name": "ssm", "keywords": ["state space model"], "channels": ["mail"]}],
        channels={"mail": email_channel(port, data_timeout_seconds=0.5)},
    )
    record = store.digests.record(
        "ssm", "mail", DAY.isoformat(), digest_of(fixture_papers()).to_json()
    )
    assert record.status == "pending"
    inbox.confirm_after = 2.0
    day = ["digest", "--date", DAY.isoformat()]
    first = run_cli(config, *day)
    assert first.exit_code == 1 and "ssm -> mail: uncertain" in first.stderr
    status = run_cli(config, "status")
    assert status.exit_code == 0
    assert "Maybe delivered" in status.stdout and "2026-11-19 ssm -> mail" in status.stdout
    assert "midlist digest --resend" in status.stdout
    resent = run_cli(config, *day, "--resend")
    assert resent.exit_code == 0 and "ssm -> mail: sent" in resent.stderr
    assert len(inbox.received) == 2
    assert "Maybe delivered" not in run_cli(config, "status").stdout
