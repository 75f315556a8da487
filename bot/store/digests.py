"""The digest ledger: a digest is recorded before it is sent and marked sent after.

(niche, channel, day) is unique, so a second run on the same day finds the record instead of
building another; `deliveries` remembers every paper a channel has received, forever. Marking a
digest sent, recording its deliveries and queueing its papers happen in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from bot.errors import StoreError
from bot.store.schema import deliveries, digests
from bot.store.times import from_db, now

if TYPE_CHECKING:
    from bot.store import Store


@dataclass(frozen=True, slots=True)
class DigestRecord:
    id: int
    niche: str
    channel: str
    day: str
    status: str  # pending | sent | failed
    payload: str  # JSON of the built digest
    progress: dict[str, Any]  # channel-specific: Slack thread ts and parts posted, Message-ID
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


CLAIM_EXPIRES = timedelta(minutes=30)  # far longer than any send with all its retries


class DigestRepo:
    def __init__(self, store: Store):
        self._store = store

    def delivered_ids(self, channel: str, *, except_digest: int | None = None) -> set[str]:
        """Papers this channel has received; `except_digest` leaves out one digest's own papers."""
        query = select(deliveries.c.paper_id).where(deliveries.c.channel == channel)
        if except_digest is not None:
            query = query.where(deliveries.c.digest_id != except_digest)
        with self._store.connect() as conn:
            return {r[0] for r in conn.execute(query)}

    def unsent(self, channel: str, day: str) -> list[DigestRecord]:
        """The day's digests for a channel that are recorded but not yet sent (pending or failed)."""
        with self._store.connect() as conn:
            rows = conn.execute(
                select(digests).where(
                    digests.c.channel == channel, digests.c.day == day, digests.c.status != "sent"
                )
            )
            return [_record(row) for row in rows]

    def unsent_days(self, niche: str, channel: str, after: str, before: str) -> list[str]:
        """Days in (after, before) whose digest for this niche and channel is still unsent."""
        with self._store.connect() as conn:
            rows = conn.execute(
                select(digests.c.day)
                .where(
                    digests.c.niche == niche,
                    digests.c.channel == channel,
                    digests.c.status != "sent",
                    digests.c.day > after,
                    digests.c.day < before,
                )
                .order_by(digests.c.day)
            )
            return [r[0] for r in rows]

    def get(self, niche: str, channel: str, day: str) -> DigestRecord | None:
        with self._store.connect() as conn:
            row = conn.execute(
                select(digests).where(
                    digests.c.niche == niche, digests.c.channel == channel, digests.c.day == day
                )
            ).first()
        return _record(row) if row is not None else None

    def record(self, niche: str, channel: str, day: str, payload: str) -> DigestRecord:
        """Store a digest as pending before it is sent; a forced resend replaces the day's record."""
        values = {
            "status": "pending",
            "payload": payload,
            "progress": "{}",
            "last_error": None,
            "created_at": now(),
            "sent_at": None,
            "claimed_at": None,
        }
        key = (digests.c.niche == niche, digests.c.channel == channel, digests.c.day == day)
        try:
            with self._store.begin() as conn:
                if conn.execute(select(digests.c.id).where(*key)).first() is None:
                    conn.execute(
                        digests.insert().values(
                            niche=niche, channel=channel, day=day, attempts=0, **values
                        )
                    )
                else:
                    conn.execute(digests.update().where(*key).values(**values))
        except IntegrityError:
            pass  # another process recorded it first: theirs is the one to send
        found = self.get(niche, channel, day)
        if found is None:
            raise StoreError(f"digest {niche}/{channel}/{day} vanished right after it was recorded")
        return found

    def claim(self, digest_id: int, stale_after: timedelta = CLAIM_EXPIRES) -> bool:
        """Take the right to send an unsent digest; False if another process holds it or it is sent.

        One atomic UPDATE, so the daemon and a manual `midlist digest` never both send it. A claim
        older than `stale_after` belongs to a process that died and is taken over."""
        with self._store.begin() as conn:
            result = conn.execute(
                digests.update()
                .where(
                    digests.c.id == digest_id,
                    digests.c.status != "sent",
                    or_(digests.c.claimed_at.is_(None), digests.c.claimed_at < now() - stale_after),
                )
                .values(claimed_at=now())
            )
            return result.rowcount == 1

    def save_progress(self, digest_id: int, progress: dict[str, Any]) -> None:
        """Written after every partial send (a Slack thread reply), so a retry resumes there."""
        with self._store.begin() as conn:
            conn.execute(
                digests.update()
                .where(digests.c.id == digest_id)
                .values(progress=json.dumps(progress))
            )

    def mark_failed(self, digest_id: int, error: str) -> None:
        with self._store.begin() as conn:
            conn.execute(
                digests.update()
                .where(digests.c.id == digest_id)
                .values(
                    status="failed",
                    last_error=error[:2000],
                    attempts=digests.c.attempts + 1,
                    claimed_at=None,
                )
            )

    def mark_sent(self, digest_id: int, niche: str, channel: str, paper_ids: Sequence[str]) -> None:
        """Sent, delivered and queued: all three land together or not at all."""
        stamp = now()
        with self._store.begin() as conn:
            conn.execute(
                digests.update()
                .where(digests.c.id == digest_id)
                .values(
                    status="sent",
                    sent_at=stamp,
                    last_error=None,
                    attempts=digests.c.attempts + 1,
                    claimed_at=None,
                )
            )
            ids = list(dict.fromkeys(paper_ids))
            if not ids:
                return
            have = {
                r[0]
                for r in conn.execute(
                    select(deliveries.c.paper_id).where(
                        deliveries.c.channel == channel, deliveries.c.paper_id.in_(ids)
                    )
                )
            }
            rows = [
                {"channel": channel, "paper_id": p, "digest_id": digest_id, "delivered_at": stamp}
                for p in ids
                if p not in have
            ]
            if rows:
                conn.execute(deliveries.insert(), rows)
            self._store.queue.enqueue(niche, ids, conn)

    def last_sent_before(self, niche: str, channel: str, day: str) -> datetime | None:
        """When the previous day's digest was built: papers after it are today's 'new'."""
        with self._store.connect() as conn:
            found = conn.execute(
                select(digests.c.created_at)
                .where(
                    digests.c.niche == niche,
                    digests.c.channel == channel,
                    digests.c.day < day,
                    digests.c.status == "sent",
                )
                .order_by(digests.c.day.desc())
                .limit(1)
            ).scalar()
        return from_db(found)

    def previous_sent(self, niche: str, channel: str, day: str) -> DigestRecord | None:
        """The latest sent digest of this niche and channel for a day before `day`."""
        with self._store.connect() as conn:
            row = conn.execute(
                select(digests)
                .where(
                    digests.c.niche == niche,
                    digests.c.channel == channel,
                    digests.c.day < day,
                    digests.c.status == "sent",
                )
                .order_by(digests.c.day.desc())
                .limit(1)
            ).first()
        return _record(row) if row is not None else None

    def mark_uncertain(self, digest_id: int, error: str) -> None:
        """The channel may have taken it without answering: not resent blindly (see progress)."""
        with self._store.begin() as conn:
            conn.execute(
                digests.update()
                .where(digests.c.id == digest_id, digests.c.status != "sent")
                .values(
                    status="uncertain",
                    last_error=error[:2000],
                    attempts=digests.c.attempts + 1,
                    claimed_at=None,
                )
            )

    def uncertain(self) -> list[DigestRecord]:
        """Digests a channel may or may not have taken, oldest first: for `midlist status`."""
        with self._store.connect() as conn:
            rows = conn.execute(
                select(digests).where(digests.c.status == "uncertain").order_by(digests.c.day)
            )
            return [_record(row) for row in rows]


def _record(row: Any) -> DigestRecord:
    return DigestRecord(
        id=row.id,
        niche=row.niche,
        channel=row.channel,
        day=row.day,
        status=row.status,
        payload=row.payload,
        progress=json.loads(row.progress or "{}"),
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=from_db(row.created_at),
        sent_at=from_db(row.sent_at),
    )
