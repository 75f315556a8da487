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
from typing import Any

from sqlalchemy import Connection, case, literal, or_, select

from bot.errors import StoreError
from bot.store.db import Database
from bot.store.engine import insert_for
from bot.store.queue import QueueRepo
from bot.store.schema import deliveries, digests
from bot.store.times import from_db, now


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
    claimed_at: datetime | None = None  # set while a process is sending it


CLAIM_EXPIRES = timedelta(minutes=30)  # far longer than any send with all its retries


class DigestRepo:
    def __init__(self, db: Database, queue: QueueRepo):
        self._db = db
        self._queue = queue  # a sent digest queues its papers in the same transaction

    def delivered_ids(self, channel: str, *, except_digest: int | None = None) -> set[str]:
        """Papers this channel has received; `except_digest` leaves out one digest's own papers."""
        query = select(deliveries.c.paper_id).where(deliveries.c.channel == channel)
        if except_digest is not None:
            query = query.where(deliveries.c.digest_id != except_digest)
        with self._db.connect() as conn:
            return {r[0] for r in conn.execute(query)}

    def unsent(self, channel: str, day: str) -> list[DigestRecord]:
        """The day's digests for a channel that are recorded but not yet sent (pending or failed)."""
        with self._db.connect() as conn:
            rows = conn.execute(
                select(digests).where(
                    digests.c.channel == channel, digests.c.day == day, digests.c.status != "sent"
                )
            )
            return [_record(row) for row in rows]

    def unsent_days(self, niche: str, channel: str, after: str, before: str) -> list[str]:
        """Days in (after, before) whose digest for this niche and channel is still unsent."""
        with self._db.connect() as conn:
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
        with self._db.connect() as conn:
            row = conn.execute(
                select(digests).where(
                    digests.c.niche == niche, digests.c.channel == channel, digests.c.day == day
                )
            ).first()
        return _record(row) if row is not None else None

    def record(
        self, niche: str, channel: str, day: str, payload: str, *, force: bool = False
    ) -> DigestRecord:
        """Store a digest as pending before it is sent; the day's record is returned.

        A record already there is kept as it is (another process may be sending it), unless
        `force`: then it is replaced, but only while nobody holds a live claim on it."""
        with self._db.begin() as conn:
            self._insert(conn, niche, channel, day, payload)
            if force:
                conn.execute(
                    digests.update()
                    .where(*_key(niche, channel, day), _unclaimed(CLAIM_EXPIRES))
                    .values(**_fresh(payload))
                )
        return self._get(niche, channel, day)

    def record_and_claim(
        self,
        niche: str,
        channel: str,
        day: str,
        payload: str,
        *,
        force: bool = False,
        stale_after: timedelta = CLAIM_EXPIRES,
    ) -> tuple[DigestRecord, bool]:
        """Record the day's digest if it is not there yet and take the right to send it, at once.

        One transaction: `INSERT ... ON CONFLICT DO NOTHING`, then an `UPDATE` that claims it only
        if it is unsent (or `force`) and unclaimed (or its claim is older than `stale_after`).
        Returns the stored record (which may hold another process's payload: send that one) and
        whether this process won the claim. A sent digest is never claimed again without `force`."""
        with self._db.begin() as conn:
            self._insert(conn, niche, channel, day, payload)
            values: dict[str, Any] = {"claimed_at": now()}
            if force:
                values = {**_fresh(payload), **values}
            claimed = conn.execute(
                digests.update()
                .where(
                    *_key(niche, channel, day),
                    _unclaimed(stale_after),
                    *(() if force else (digests.c.status.in_(("pending", "failed")),)),
                )
                .values(**values)
            )
            won = claimed.rowcount == 1
        return self._get(niche, channel, day), won

    def claim(
        self, digest_id: int, stale_after: timedelta = CLAIM_EXPIRES, *, force: bool = False
    ) -> bool:
        """Take the right to send an unsent digest; False if another process holds it or it is sent.

        One atomic UPDATE, so the daemon and a manual `midlist digest` never both send it. A claim
        older than `stale_after` belongs to a process that died and is taken over."""
        with self._db.begin() as conn:
            result = conn.execute(
                digests.update()
                .where(
                    digests.c.id == digest_id,
                    _unclaimed(stale_after),
                    *(() if force else (digests.c.status.in_(("pending", "failed")),)),
                )
                .values(claimed_at=now())
            )
            return result.rowcount == 1

    def _insert(self, conn: Connection, niche: str, channel: str, day: str, payload: str) -> None:
        conn.execute(
            insert_for(conn, digests)
            .values(niche=niche, channel=channel, day=day, attempts=0, **_fresh(payload))
            .on_conflict_do_nothing(index_elements=["niche", "channel", "day"])
        )

    def _get(self, niche: str, channel: str, day: str) -> DigestRecord:
        found = self.get(niche, channel, day)
        if found is None:
            raise StoreError(f"digest {niche}/{channel}/{day} vanished right after it was recorded")
        return found

    def save_progress(self, digest_id: int, progress: dict[str, Any]) -> None:
        """Written after every partial send (a Slack thread reply), so a retry resumes there.

        It also renews the sender's claim: a long send that keeps making progress is never
        taken for a dead one and sent again by another process."""
        with self._db.begin() as conn:
            conn.execute(
                digests.update()
                .where(digests.c.id == digest_id)
                .values(
                    progress=json.dumps(progress),
                    claimed_at=case(
                        (digests.c.claimed_at.is_(None), None),
                        else_=literal(now(), digests.c.claimed_at.type),
                    ),
                )
            )

    def mark_failed(self, digest_id: int, error: str) -> None:
        with self._db.begin() as conn:
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
        with self._db.begin() as conn:
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
            conn.execute(  # a paper another digest delivered to this channel keeps that record
                insert_for(conn, deliveries).on_conflict_do_nothing(
                    index_elements=["channel", "paper_id"]
                ),
                [
                    {
                        "channel": channel,
                        "paper_id": p,
                        "digest_id": digest_id,
                        "delivered_at": stamp,
                    }
                    for p in ids
                ],
            )
            self._queue.enqueue(niche, ids, conn)

    def previous_sent(self, niche: str, channel: str, day: str) -> DigestRecord | None:
        """The latest sent digest of this niche and channel for a day before `day`."""
        with self._db.connect() as conn:
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

    def uncertain(self) -> list[DigestRecord]:
        """Unsent digests a channel may have taken without confirming (their progress says so),
        oldest first: `midlist status` lists them, `midlist digest --resend` sends them again."""
        with self._db.connect() as conn:
            rows = conn.execute(
                select(digests).where(digests.c.status == "failed").order_by(digests.c.day)
            )
            return [r for r in map(_record, rows) if "uncertain" in r.progress]


def _key(niche: str, channel: str, day: str) -> tuple[Any, ...]:
    return (digests.c.niche == niche, digests.c.channel == channel, digests.c.day == day)


def _unclaimed(stale_after: timedelta) -> Any:
    return or_(digests.c.claimed_at.is_(None), digests.c.claimed_at < now() - stale_after)


def _fresh(payload: str) -> dict[str, Any]:
    """A pending record's columns, as first recorded or as replaced by a forced resend."""
    return {
        "status": "pending",
        "payload": payload,
        "progress": "{}",
        "last_error": None,
        "created_at": now(),
        "sent_at": None,
        "claimed_at": None,
    }


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
        claimed_at=from_db(row.claimed_at),
    )
