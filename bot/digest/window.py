"""Which papers are new to a digest: arrived since the channel's previous digest, announced lately.

Arrival (`first_seen`, when this store first held the paper) is what keeps a digest from
repeating one that went before and lets a missed day be caught up; announcement (the OAI
datestamp, the listing day) is what keeps a bulk import of history from being news. A paper is
new on day D when it arrived after the previous sent digest of this niche and channel chose its
papers, and was announced in the `lookback_days` before D or on D itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bot.models import Digest
from bot.store import Store


@dataclass(frozen=True, slots=True)
class Window:
    arrived_after: datetime | None  # None: nothing was sent before, every arrival counts
    announced_from: datetime  # inclusive
    announced_to: datetime  # exclusive: the day after the digest's own date
    arrived_until: datetime  # when the candidates were read; the next digest starts there
    ids: tuple[str, ...]


def new_papers(store: Store, niche: str, channel: str, day: date, lookback_days: int) -> Window:
    """The ids of the papers new to (niche, channel) on `day`, and the window that chose them."""
    after = previous_cutoff(store, niche, channel, day)
    start = datetime.combine(day - timedelta(days=lookback_days), time(), UTC)
    end = datetime.combine(day + timedelta(days=1), time(), UTC)
    until = datetime.now(UTC)  # read before the query: a paper arriving during it comes next time
    ids = store.papers.arrived(after=after, announced_from=start, announced_to=end)
    return Window(after, start, end, until, tuple(ids))


def previous_cutoff(store: Store, niche: str, channel: str, day: date) -> datetime | None:
    """When the previous sent digest read its candidates (or was recorded, for older records)."""
    record = store.digests.previous_sent(niche, channel, day.isoformat())
    if record is None:
        return None
    until = Digest.from_json(record.payload).arrived_until
    return datetime.fromisoformat(until) if until else record.created_at
