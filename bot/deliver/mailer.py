"""Digest -> a multipart (plain text + HTML) email, sent over SMTP with STARTTLS, SSL or neither.

Named `mailer`, not `email`, so it never shadows the standard library. Transient trouble (a
dropped connection, a timeout, a 4xx answer) is retried with backoff; a refused login or a 5xx
answer is not, because only the user can fix it. The Message-ID is made once per digest and
kept in its progress, so a resend after a failure carries the same id and clients can dedupe; a
mail that went out is noted there too, so a run that died before marking it sent does not resend.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

from tenacity import RetryError, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from bot.config import EmailChannel
from bot.deliver.render import render_html, render_markdown
from bot.errors import DeliveryError
from bot.models import Digest

log = logging.getLogger(__name__)


def build_message(cfg: EmailChannel, digest: Digest, message_id: str) -> EmailMessage:
    msg = EmailMessage()
    n = len(digest.items)
    what = f"{n} paper{'' if n == 1 else 's'}" if n else "nothing new today"
    msg["Subject"] = f"{digest.title}: {what}"
    msg["From"] = cfg.sender
    msg["To"] = ", ".join(cfg.to)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = message_id
    msg.set_content(render_markdown(digest))
    msg.add_alternative(render_html(digest), subtype="html")
    return msg


def send_email(
    name: str,
    cfg: EmailChannel,
    digest: Digest,
    progress: dict[str, Any],
    save: Callable[[dict[str, Any]], None],
) -> None:
    if progress.get("sent"):  # it went out, but the digest was not marked sent afterwards
        return
    if "message_id" not in progress:
        domain = parseaddr(cfg.sender)[1].rpartition("@")[2] or None
        progress["message_id"] = make_msgid("midlist", domain=domain)
        save(progress)
    msg = build_message(cfg, digest, progress["message_id"])
    retrying = Retrying(
        stop=stop_after_attempt(cfg.retries + 1),
        wait=wait_exponential(multiplier=0.5, max=30),
        retry=retry_if_exception(_transient),
        reraise=False,
    )
    try:
        for attempt in retrying:
            with attempt:
                _send_once(cfg, msg)
    except RetryError as exc:
        last = exc.last_attempt.exception()
        raise DeliveryError(
            f"channel {name}: {cfg.host}:{cfg.port} failed {cfg.retries + 1} times: {_say(last)}; "
            "will retry on the next run"
        ) from last
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(
            f"channel {name}: {cfg.host} refused the login ({_say(exc)}); "
            f"check channels.{name}.username and password",
            retryable=False,
        ) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(
            f"channel {name}: {cfg.host}:{cfg.port} refused the digest: {_say(exc)}"
        ) from exc
    progress["sent"] = True
    save(progress)


def _send_once(cfg: EmailChannel, msg: EmailMessage) -> None:
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if cfg.security == "ssl":
        smtp = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout_seconds, context=context)
    else:
        smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_seconds)
    with smtp:
        if cfg.security == "starttls":
            smtp.starttls(context=context)
        if cfg.username:
            password = cfg.password.get_secret_value() if cfg.password else ""
            smtp.login(cfg.username, password)
        refused = smtp.send_message(msg)
    if refused:
        log.warning("some recipients were refused: %s", ", ".join(sorted(refused)))


def _transient(exc: BaseException) -> bool:
    """Worth another try now: the connection dropped or timed out, or the server said 4xx."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return False
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    return isinstance(
        exc,
        (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, TimeoutError, ConnectionError),
    )


def _say(exc: BaseException | None) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = (
            exc.smtp_error.decode(errors="replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        return f"{exc.smtp_code} {text}"
    return f"{type(exc).__name__}: {exc}" if exc is not None else "unknown error"
