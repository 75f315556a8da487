"""Posting a digest to Slack with slack-sdk, by bot token (threads, buttons) or webhook.

The messages come from `bot.deliver.slack_blocks`. A post that may have landed without an
answer is never repeated blindly: bot-token messages carry metadata naming the send and part,
and the next attempt reads the channel back before posting; a webhook waits for `--resend`.
Retry-After is honoured up to MAX_RETRY_AFTER, and errors only the user can fix fail at once.
"""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.client import HTTPException
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.webhook import WebhookClient

from bot.config import SlackChannel
from bot.deliver.slack_blocks import (
    MAX_BLOCKS,
    SlackMessage,
    escape,
    link,
    render_messages,
)
from bot.errors import DeliveryError, DeliveryUncertain
from bot.models import Digest
from sources.http import retry_after_seconds

__all__ = ["MAX_BLOCKS", "SlackMessage", "escape", "link", "render_messages", "send_slack"]

log = logging.getLogger(__name__)

# Errors that no retry can fix, with what the user should do about them.
_PERMANENT = {
    "invalid_auth": "the token is not valid; check channels.<name>.token",
    "not_authed": "no token was sent; set channels.<name>.token",
    "token_revoked": "the token was revoked; reinstall the app and update the token",
    "account_inactive": "the token belongs to a deactivated app or user",
    "channel_not_found": "no such channel, or the bot cannot see it; check channels.<name>.channel",
    "not_in_channel": "the bot is not in the channel; invite it with /invite @yourbot",
    "is_archived": "the channel is archived",
    "missing_scope": "the token lacks the chat:write scope",
    "invalid_blocks": "Slack rejected the message layout",
}


# ---- sending ----------------------------------------------------------------------------------


def send_slack(
    name: str,
    cfg: SlackChannel,
    digest: Digest,
    progress: dict[str, Any],
    save: Callable[[dict[str, Any]], None],
    *,
    resend: bool = False,
) -> None:
    """Post the parts not yet posted; `progress` (thread ts, parts sent) is saved after each one.

    Before each post the part is noted as `posting`: if no answer comes back (or the run dies),
    the part may be in the channel. A bot token can look: each message carries metadata naming
    the send and part, and the next attempt reads the channel's history before posting again.
    A webhook cannot read back, so such a part is only posted again with `resend`."""
    token, webhook = cfg.token, cfg.webhook_url
    bot = token is not None and cfg.channel is not None
    messages = render_messages(digest, buttons=bot)
    if int(progress.get("parts_sent", 0)) >= len(messages):
        return
    progress.setdefault("send_id", f"{digest.niche}/{digest.day}/{uuid.uuid4().hex[:12]}")
    if token is not None and cfg.channel is not None:
        client = _web_client(cfg, token.get_secret_value())
        post = _bot_poster(name, cfg, client, cfg.channel, progress["send_id"])
        find: Finder | None = _finder(name, client, cfg.channel, progress["send_id"])
    elif webhook is not None:
        post, find = _webhook_poster(name, cfg, webhook.get_secret_value()), None
    else:  # the config model refuses this; say so rather than post nowhere
        raise DeliveryError(
            f"channel {name}: needs a token and channel, or a webhook_url", retryable=False
        )
    for i in range(int(progress.get("parts_sent", 0)), len(messages)):
        thread = (progress.get("ts"), progress.get("channel_id")) if i > 0 else (None, None)
        if progress.get("posting") == i and not resend:
            if find is None:
                raise DeliveryUncertain(
                    f"channel {name}: part {i + 1} of {len(messages)} may have been posted "
                    f"({progress.get('uncertain', 'no answer came back')}); a webhook cannot "
                    "check, so it is not posted again automatically: look in the channel, then "
                    "run `midlist digest --resend` to post it"
                )
            found = find(i, progress.get("posting_since"), *thread)
            if found is not None:
                log.info("%s: part %d was posted after all; not posting it again", name, i + 1)
                _posted(progress, i, found, save)
                continue
        progress["posting"], progress["posting_since"] = i, f"{time.time() - 120:.6f}"
        save(progress)
        try:
            ts, channel_id = post(messages[i], *thread, i)
        except DeliveryUncertain as exc:
            if find is None:
                exc = DeliveryUncertain(
                    f"{exc}; it may have been posted, and a webhook cannot check, so it is not "
                    "posted again automatically: look in the channel, then run "
                    "`midlist digest --resend` to post it"
                )
            cause = exc.__cause__
            progress["uncertain"] = f"no answer came back: {type(cause).__name__}: {cause}"
            save(progress)
            raise exc from cause
        except DeliveryError:
            for key in ("posting", "posting_since", "uncertain"):
                progress.pop(key, None)
            save(progress)
            raise
        _posted(progress, i, (ts, channel_id), save)
        log.info("%s: posted part %d of %d", name, i + 1, len(messages))


def _posted(
    progress: dict[str, Any],
    i: int,
    where: tuple[str | None, str | None],
    save: Callable[[dict[str, Any]], None],
) -> None:
    if i == 0 and where[0]:
        progress["ts"], progress["channel_id"] = where
    for key in ("posting", "posting_since", "uncertain"):
        progress.pop(key, None)
    progress["parts_sent"] = i + 1
    save(progress)


# (message, thread ts, channel id of the thread, part) -> (ts, channel id) of the posted message
Poster = Callable[[SlackMessage, str | None, str | None, int], tuple[str | None, str | None]]
# (part, oldest ts, thread ts, thread channel) -> (ts, channel id) of that part if it is there
Finder = Callable[[int, str | None, str | None, str | None], tuple[str | None, str | None] | None]
EVENT_TYPE = "midlist_digest"
MAX_RETRY_AFTER = 600.0  # seconds; a longer wait fails the attempt and leaves it to the schedule


class _RateLimitHandler(RetryHandler):
    """429: wait what Retry-After says (seconds or an HTTP date), unless it is over the cap."""

    def _can_retry(
        self, *, state: Any, request: Any, response: Any = None, error: Any = None
    ) -> bool:
        return (
            response is not None
            and response.status_code == 429
            and _retry_after(response.headers) <= MAX_RETRY_AFTER
        )

    def prepare_for_next_attempt(
        self, *, state: Any, request: Any, response: Any = None, error: Any = None
    ) -> None:
        state.next_attempt_requested = True
        time.sleep(_retry_after(response.headers))
        state.increment_current_attempt()


def _retry_after(headers: Any) -> float:
    for key, values in (headers or {}).items():
        if key.lower() == "retry-after":
            value = values[0] if isinstance(values, list) else values
            seconds = retry_after_seconds(str(value))
            return 1.0 if seconds is None else seconds
    return 1.0


def _retry_handlers(retries: int) -> list[Any]:
    # Only errors raised while *sending* the request (URLError: refused, unresolvable, reset
    # mid-upload) are retried at once; a timeout or a dropped connection while waiting for the
    # answer may follow a post Slack accepted, so it is reported as uncertain instead.
    return [
        _RateLimitHandler(max_retry_count=retries),
        ServerErrorRetryHandler(max_retry_count=retries),
        ConnectionErrorRetryHandler(max_retry_count=retries, error_types=[URLError]),
    ]


def _web_client(cfg: SlackChannel, token: str) -> WebClient:
    return WebClient(
        token=token,
        base_url=cfg.base_url,
        timeout=int(cfg.timeout_seconds),
        retry_handlers=_retry_handlers(cfg.retries),
    )


def _bot_poster(
    name: str, cfg: SlackChannel, client: WebClient, channel: str, send_id: str
) -> Poster:
    def post(
        message: SlackMessage, thread_ts: str | None, thread_channel: str | None, part: int
    ) -> tuple[str | None, str | None]:
        with _posting(
            name,
            f"Slack at {cfg.base_url}",
            "Slack did not answer the post",
            "; it may have been posted, so the next attempt looks for it in the channel first",
        ):
            response = client.chat_postMessage(
                channel=thread_channel or channel,
                text=message.text,
                blocks=message.blocks,
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
                metadata={
                    "event_type": EVENT_TYPE,
                    "event_payload": {"digest": send_id, "part": part},
                },
            )
        return response.get("ts"), response.get("channel")

    return post


@contextmanager
def _posting(name: str, where: str, silent: str, then: str = "") -> Iterator[None]:
    """A post's failures, sorted by what a resend may do: not sent (retry), refused by slack-sdk
    before sending (never retry), sent and unanswered (uncertain: never repeated blindly)."""
    try:
        yield
    except SlackApiError as exc:  # Slack answered with an error
        raise _api_error(name, exc) from exc
    except URLError as exc:  # raised while sending: Slack never got the request
        raise DeliveryError(f"channel {name}: cannot reach {where}: {exc.reason}") from exc
    except SlackClientError as exc:  # refused by slack-sdk before anything was sent
        raise DeliveryError(f"channel {name}: {exc}", retryable=False) from exc
    except (OSError, HTTPException) as exc:  # sent, and the answer never came
        raise DeliveryUncertain(
            f"channel {name}: {silent} ({type(exc).__name__}: {exc}){then}"
        ) from exc


def _finder(name: str, client: WebClient, channel: str, send_id: str) -> Finder:
    def find(
        part: int, oldest: str | None, thread_ts: str | None, thread_channel: str | None
    ) -> tuple[str | None, str | None] | None:
        where = thread_channel or channel
        try:
            if thread_ts:
                pages = client.conversations_replies(
                    channel=where, ts=thread_ts, include_all_metadata=True, limit=200
                )
            else:
                pages = client.conversations_history(
                    channel=where, oldest=oldest, include_all_metadata=True, limit=200
                )
            for page in itertools.islice(pages, 10):
                for message in page.get("messages") or []:
                    meta = message.get("metadata") or {}
                    payload = meta.get("event_payload") or {}
                    if (
                        meta.get("event_type") == EVENT_TYPE
                        and payload.get("digest") == send_id
                        and payload.get("part") == part
                    ):
                        return message.get("ts"), page.get("channel") or where
        except (SlackApiError, SlackClientError, OSError, HTTPException) as exc:
            raise DeliveryUncertain(
                f"channel {name}: part {part + 1} may have been posted, and reading the channel "
                f"back failed ({exc}); it needs the channels:history scope and a channel id; "
                "look in the channel, then run `midlist digest --resend` to post it"
            ) from exc
        return None

    return find


def _api_error(name: str, exc: SlackApiError) -> DeliveryError:
    response = exc.response
    code = str(response.get("error", "unknown_error")) if response is not None else "unknown_error"
    status = getattr(response, "status_code", None)
    if status == 429:
        wait = _retry_after(getattr(response, "headers", None))
        return DeliveryError(
            f"channel {name}: Slack is rate-limiting and asked to wait {wait:.0f}s; "
            "left to the next scheduled run"
        )
    hint = _PERMANENT.get(code)
    if hint is None:
        where = f"HTTP {status}, " if status and status != 200 else ""
        return DeliveryError(
            f"channel {name}: Slack answered {where}error {code!r}; will retry on the next run"
        )
    return DeliveryError(
        f"channel {name}: Slack answered error {code!r}: {hint.replace('<name>', name)}",
        retryable=False,
    )


def _webhook_poster(name: str, cfg: SlackChannel, url: str) -> Poster:
    client = WebhookClient(
        url,
        timeout=int(cfg.timeout_seconds),
        retry_handlers=_retry_handlers(cfg.retries),
    )

    def post(
        message: SlackMessage, _ts: str | None, _channel: str | None, _part: int
    ) -> tuple[str | None, str | None]:
        with _posting(name, "the Slack webhook", "the webhook did not answer"):
            response = client.send(
                text=message.text, blocks=message.blocks, unfurl_links=False, unfurl_media=False
            )
        if response.status_code == 429:
            wait = _retry_after(response.headers)
            raise DeliveryError(
                f"channel {name}: Slack is rate-limiting and asked to wait {wait:.0f}s; "
                "left to the next scheduled run"
            )
        if response.status_code != 200:
            body = (response.body or "").strip()[:200]
            if response.status_code in (400, 403, 404, 410):
                raise DeliveryError(
                    f"channel {name}: the webhook refused the message (HTTP {response.status_code}: "
                    f"{body}); check channels.{name}.webhook_url",
                    retryable=False,
                )
            raise DeliveryError(
                f"channel {name}: the webhook answered HTTP {response.status_code}: {body}; will retry"
            )
        return None, None

    return post
