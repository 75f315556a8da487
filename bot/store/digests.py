"""The digest ledger: a digest is recorded before it is sent and marked sent after.

(niche, channel, day) is unique, so a second run on the same day finds the record instead of
building another; `deliveries` remembers every paper a channel has received, forever.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.store.schema import deliveries

if TYPE_CHECKING:
    from bot.store import Store


class DigestRepo:
    def __init__(self, store: Store):
        self._store = store

    def delivered_ids(self, channel: str) -> set[str]:
        with self._store.connect() as conn:
            rows = conn.execute(
                select(deliveries.c.paper_id).where(deliveries.c.channel == channel)
            )
            return {r[0] for r in rows}
