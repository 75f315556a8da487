"""Reading-queue state per niche and paper: queued, saved, read, skipped."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

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
