"""Reading-queue state per niche and paper: queued, saved, read, skipped."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection, select

from bot.store.schema import queue

if TYPE_CHECKING:
    from bot.store import Store

STATES = ("queued", "saved", "read", "skipped")


class QueueRepo:
    def __init__(self, store: Store):
        self._store = store

    def states(self, niche: str) -> dict[str, str]:
        with self._store.connect() as conn:
            rows = conn.execute(select(queue.c.paper_id, queue.c.state).where(queue.c.niche == niche))
            return {pid: state for pid, state in rows}

    def enqueue(self, niche: str, paper_ids: Iterable[str], conn: Connection | None = None) -> int:
        """Add delivered papers as `queued`; a paper already in the queue keeps its state."""
        if conn is None:
            with self._store.begin() as own:
                return self.enqueue(niche, paper_ids, own)
        ids = list(dict.fromkeys(paper_ids))
        have = {
            r[0]
            for r in conn.execute(
                select(queue.c.paper_id).where(queue.c.niche == niche, queue.c.paper_id.in_(ids))
            )
        }
        now = datetime.now(UTC).replace(tzinfo=None)
        rows = [{"niche": niche, "paper_id": p, "state": "queued", "updated_at": now} for p in ids if p not in have]
        if rows:
            conn.execute(queue.insert(), rows)
        return len(rows)
