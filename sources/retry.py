"""Waiting before a retry: what a server's Retry-After says, else exponential backoff.

One place for it, so the arXiv, feed and Reddit collectors read the header the same way.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

log = logging.getLogger(__name__)


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number, or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long to wait before retry `attempt` (0-based): Retry-After when the server says,
    else exponential. Injected so tests wait milliseconds, not seconds."""

    base_seconds: float = 2.0
    max_seconds: float = 120.0

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        seconds = retry_after_seconds(retry_after)
        if seconds is None:
            seconds = self.base_seconds * 2**attempt
        return min(seconds, self.max_seconds)

    def wait(self, attempt: int, retry_after: str | None, reason: str) -> None:
        seconds = self.delay(attempt, retry_after)
        log.warning("%s; retrying in %.1fs", reason, seconds)
        time.sleep(seconds)
