"""Delivery: one function per channel type, chosen by the channel's config.

Every sender takes the digest and its `progress` (a dict saved after each partial send), so a
send cut short resumes where it stopped. Failures are raised as DeliveryError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TextIO

from bot.config import ConsoleChannel, EmailChannel, FeedChannel, FileChannel, SlackChannel
from bot.deliver.feed import write_feed
from bot.deliver.files import write_console, write_file
from bot.deliver.mailer import send_email
from bot.deliver.slack import send_slack
from bot.models import Digest

SaveProgress = Callable[[dict[str, Any]], None]


def deliver(
    name: str,
    channel: SlackChannel | EmailChannel | FileChannel | ConsoleChannel | FeedChannel,
    digest: Digest,
    progress: dict[str, Any],
    save: SaveProgress,
    *,
    console: TextIO,
    resend: bool = False,
) -> None:
    """`resend`: post again what a channel may have taken without confirming it (the user's word)."""
    if isinstance(channel, SlackChannel):
        send_slack(name, channel, digest, progress, save, resend=resend)
    elif isinstance(channel, EmailChannel):
        send_email(name, channel, digest, progress, save, resend=resend)
    elif isinstance(channel, FileChannel):
        write_file(name, channel, digest)
    elif isinstance(channel, FeedChannel):
        write_feed(name, channel, digest)
    else:
        write_console(digest, console)
