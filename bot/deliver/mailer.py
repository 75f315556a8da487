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
import socket
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

from tenacity import RetryError, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from bot.config import EmailChannel
from bot.deliver.render import render_html, render_markdown
from bot.errors import DeliveryError, DeliveryUncertain
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
    *,
    resend: bool = False,
) -> None:
    """Mail the digest once. A send that may have gone out (no answer to the end of DATA, or a
    run that died mid-send) is not repeated unless `resend`: SMTP cannot be asked what it took."""
    if progress.get("sent"):  # it went out, but the digest was not marked sent afterwards
        return
    if (progress.get("uncertain") or progress.get("sending")) and not resend:
        why = progress.get("uncertain") or "the run sending it stopped before the server answered"
        raise DeliveryUncertain(
            f"channel {name}: {cfg.host} may have taken the digest already ({why}); it is not "
            "resent automatically: check the inbox, then run `midlist digest --resend` to send it"
        )
    if "message_id" not in progress:
        domain = parseaddr(cfg.sender)[1].rpartition("@")[2] or None
        progress["message_id"] = make_msgid("midlist", domain=domain)
    progress.pop("uncertain", None)
    progress["sending"] = True  # until the server answers: a crash now leaves it uncertain
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
    except _MaybeSent as exc:
        progress.pop("sending")
        progress["uncertain"] = f"no answer after the end of DATA: {_say(exc.__cause__)}"
        save(progress)
        raise DeliveryUncertain(
            f"channel {name}: {cfg.host} did not confirm the digest ({_say(exc.__cause__)}), so it "
            "may have been delivered; it is not resent automatically: check the inbox, then run "
            "`midlist digest --resend` to send it"
        ) from exc.__cause__
    except (RetryError, smtplib.SMTPException, OSError) as exc:
        progress.pop("sending")  # refused or never reached: certainly not delivered
        save(progress)
        raise _failure(name, cfg, exc) from exc
    progress.pop("sending")
    progress["sent"] = True
    save(progress)


def _failure(name: str, cfg: EmailChannel, exc: Exception) -> DeliveryError:
    if isinstance(exc, RetryError):
        return DeliveryError(
            f"channel {name}: {cfg.host}:{cfg.port} failed {cfg.retries + 1} times: "
            f"{_say(exc.last_attempt.exception())}; will retry on the next run"
        )
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return DeliveryError(
            f"channel {name}: {cfg.host} refused the login ({_say(exc)}); "
            f"check channels.{name}.username and password",
            retryable=False,
        )
    return DeliveryError(f"channel {name}: {cfg.host}:{cfg.port} refused the digest: {_say(exc)}")


class _MaybeSent(Exception):
    """The whole message reached the server, and its answer did not come back."""


class _SMTP(smtplib.SMTP):
    """SMTP whose every reply has a wall-clock deadline (RFC 5321's timeouts), so neither a
    silent server nor one sending endless `220-` lines can hold the digest; and which knows
    whether the server went quiet after the whole message reached it."""

    reply_timeout: float = 300.0
    data_timeout: float = 600.0
    awaiting_final = False  # the end of DATA was sent
    answered = False  # and the server answered it
    _in_data = False

    def getreply(self) -> tuple[int, bytes]:
        seconds = self.data_timeout if self.awaiting_final else self.reply_timeout
        if self.file is None and self.sock is not None:
            self.file = _DeadlineReader(self.sock)  # type: ignore[assignment]
        if isinstance(self.file, _DeadlineReader):
            self.file.start(seconds)
        reply = super().getreply()
        self.answered = self.awaiting_final
        return reply

    def data(self, msg: Any) -> tuple[int, bytes]:
        self._in_data = True
        try:
            return super().data(msg)
        finally:
            self._in_data = False

    def send(self, s: Any) -> None:
        super().send(s)
        if self._in_data and isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):
            self.awaiting_final = True


class _SMTP_SSL(_SMTP, smtplib.SMTP_SSL):  # noqa: N801 (named after smtplib's class)
    pass


class _DeadlineReader:
    """The reply stream smtplib reads line by line, refusing to read past the reply's deadline."""

    def __init__(self, sock: socket.socket):
        self._sock = sock
        self._file = sock.makefile("rb")
        self._seconds = 0.0
        self._deadline = 0.0

    def start(self, seconds: float) -> None:
        self._seconds, self._deadline = seconds, time.monotonic() + seconds

    def readline(self, size: int = -1) -> bytes:
        left = self._deadline - time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError
            self._sock.settimeout(left)
            return self._file.readline(size)
        except TimeoutError:
            raise TimeoutError(f"no complete reply within {self._seconds:g}s") from None

    def close(self) -> None:
        self._file.close()


def _send_once(cfg: EmailChannel, msg: EmailMessage) -> None:
    context = ssl.create_default_context()
    smtp: _SMTP | _SMTP_SSL
    if cfg.security == "ssl":
        smtp = _SMTP_SSL(timeout=cfg.timeout_seconds, context=context)
    else:
        smtp = _SMTP(timeout=cfg.timeout_seconds)  # `timeout` is for connecting
    smtp.reply_timeout, smtp.data_timeout = cfg.reply_timeout_seconds, cfg.data_timeout_seconds
    try:
        with smtp:
            code, greeting = smtp.connect(cfg.host, cfg.port)
            if code != 220:
                raise smtplib.SMTPConnectError(code, greeting)
            if cfg.security == "starttls":
                smtp.starttls(context=context)
            if cfg.username:
                password = cfg.password.get_secret_value() if cfg.password else ""
                smtp.login(cfg.username, password)
            refused = smtp.send_message(msg)
    except OSError as exc:  # SMTPServerDisconnected and timeouts included
        if smtp.awaiting_final and not smtp.answered:
            raise _MaybeSent() from exc
        raise
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
