"""Venues, citation counts and merged identities: what makes a paper a classic, and one row for it.

`listings` says where a paper appeared (venue, year, status); `citations` keeps one count per
source (`gs`: Google Scholar, shipped with proceedings lists; `s2`: Semantic Scholar); `aliases`
remembers the ids of duplicates merged into an arXiv paper, so the next sighting of the DOI
lands on the arXiv paper at once. Writes are delete-then-insert per chunk inside the caller's
transaction: portable SQL, no dialect-specific upsert.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, select

from bot.store.db import Database
from bot.store.schema import aliases, citations, deliveries, listings, mentions, papers, queue
from bot.store.times import from_db, now, to_db
from sources.ids import paper_url
from sources.proceedings import Listing

_CHUNK = 500
UNKNOWN = -1  # a count that records "the source was asked and does not know this paper"


@dataclass(frozen=True, slots=True)
class Count:
    paper_id: str
    source: str
    count: int
    fetched_at: datetime | None = None  # None: now


class CitationRepo:
    def __init__(self, db: Database):
        self._db = db

    # ---- writes ---------------------------------------------------------------------------

    def put_listings(self, found: Iterable[Listing], conn: Connection) -> int:
        """Record where papers appeared (their counts go through put_counts); returns how many
        existing listings changed."""
        latest = {item.paper_id: item for item in found}
        changed = 0
        ids = list(latest)
        for chunk in _chunks(ids):
            stored = {
                r.paper_id: (r.venue, r.year, r.status)
                for r in conn.execute(select(listings).where(listings.c.paper_id.in_(chunk)))
            }
            fresh = [
                latest[p]
                for p in chunk
                if stored.get(p) != (latest[p].venue, latest[p].year, latest[p].status)
            ]
            replaced = [item.paper_id for item in fresh if item.paper_id in stored]
            changed += len(replaced)
            if replaced:
                conn.execute(delete(listings).where(listings.c.paper_id.in_(replaced)))
            if fresh:
                conn.execute(
                    listings.insert(),
                    [
                        {
                            "paper_id": i.paper_id,
                            "venue": i.venue,
                            "year": i.year,
                            "status": i.status,
                        }
                        for i in fresh
                    ],
                )
        return changed

    def put_counts(
        self, found: Iterable[Count], conn: Connection | None = None, *, touch: bool = False
    ) -> int:
        """Record counts; returns how many existing counts changed value.

        An unchanged count keeps its date unless `touch` (a fresh answer from the source, which
        resets its refresh clock); re-importing the same list therefore changes nothing.
        """
        if conn is None:
            with self._db.begin() as own:
                return self.put_counts(found, own, touch=touch)
        latest = {(c.paper_id, c.source): c for c in found}
        changed = 0
        keys = list(latest)
        stamp = now()
        for chunk in _chunks(keys):
            ids = list({pid for pid, _ in chunk})
            stored = {
                (r.paper_id, r.source): r._mapping["count"]
                for r in conn.execute(select(citations).where(citations.c.paper_id.in_(ids)))
            }
            fresh = [latest[k] for k in chunk if touch or stored.get(k) != latest[k].count]
            changed += sum(
                1
                for c in fresh
                if (c.paper_id, c.source) in stored and stored[(c.paper_id, c.source)] != c.count
            )
            replaced: dict[str, list[str]] = {}
            for c in fresh:
                if (c.paper_id, c.source) in stored:
                    replaced.setdefault(c.source, []).append(c.paper_id)
            for source, pids in replaced.items():
                conn.execute(
                    delete(citations).where(
                        citations.c.source == source, citations.c.paper_id.in_(pids)
                    )
                )
            if fresh:
                conn.execute(
                    citations.insert(),
                    [
                        {
                            "paper_id": c.paper_id,
                            "source": c.source,
                            "count": c.count,
                            "fetched_at": to_db(c.fetched_at) or stamp,
                        }
                        for c in fresh
                    ],
                )
        return changed

    def merge(self, duplicate: str, into: str, conn: Connection | None = None) -> bool:
        """Fold paper `duplicate` into paper `into`: its mentions, queue states, deliveries,
        listing and counts move over (what `into` already has wins), its id becomes an alias.

        `into` is created from the duplicate's row when the store does not hold it yet.
        Returns False when there is nothing to merge.
        """
        if conn is None:
            with self._db.begin() as own:
                return self.merge(duplicate, into, own)
        if duplicate == into:
            return False
        row = conn.execute(select(papers).where(papers.c.id == duplicate)).first()
        if row is None:
            return False
        if not conn.execute(select(papers.c.id).where(papers.c.id == into)).first():
            values: dict[str, Any] = dict(row._mapping)
            values.update(id=into, url=paper_url(into))
            conn.execute(papers.insert().values(values))
        self._move_rows(conn, mentions, duplicate, into, ("source", "external_id"))
        self._move_queue(conn, duplicate, into)
        self._move_rows(conn, deliveries, duplicate, into, ("channel",))
        self._move_rows(conn, listings, duplicate, into, ())
        self._move_rows(conn, citations, duplicate, into, ("source",))
        conn.execute(aliases.update().where(aliases.c.paper_id == duplicate).values(paper_id=into))
        conn.execute(delete(aliases).where(aliases.c.alias == duplicate))
        conn.execute(aliases.insert().values(alias=duplicate, paper_id=into, created_at=now()))
        conn.execute(delete(papers).where(papers.c.id == duplicate))
        return True

    def _move_rows(
        self, conn: Connection, table: Any, old: str, new: str, key: Sequence[str]
    ) -> None:
        """Repoint `old`'s rows at `new`, dropping those `new` already has (same `key` columns)."""
        columns = [table.c[k] for k in key] or [table.c.paper_id]
        have = {
            tuple(r._mapping[k] for k in key)
            for r in conn.execute(select(*columns).where(table.c.paper_id == new))
        }
        for r in list(conn.execute(select(table).where(table.c.paper_id == old))):
            where = [table.c.paper_id == old] + [table.c[k] == r._mapping[k] for k in key]
            if tuple(r._mapping[k] for k in key) in have:
                conn.execute(delete(table).where(and_(*where)))
            else:
                conn.execute(table.update().where(and_(*where)).values(paper_id=new))

    def _move_queue(self, conn: Connection, old: str, new: str) -> None:
        """A niche that queued both keeps the state the user set last."""
        theirs = {
            r.niche: r.updated_at
            for r in conn.execute(select(queue).where(queue.c.paper_id == new))
        }
        for r in list(conn.execute(select(queue).where(queue.c.paper_id == old))):
            same = and_(queue.c.paper_id == old, queue.c.niche == r.niche)
            if r.niche not in theirs:
                conn.execute(queue.update().where(same).values(paper_id=new))
                continue
            if r.updated_at > theirs[r.niche]:
                conn.execute(
                    queue.update()
                    .where(queue.c.paper_id == new, queue.c.niche == r.niche)
                    .values(state=r.state, updated_at=r.updated_at)
                )
            conn.execute(delete(queue).where(same))

    # ---- reads ----------------------------------------------------------------------------

    def popularity(self, ids: Collection[str] | None = None) -> dict[str, int]:
        """One count per paper: the largest any source reports (sources count the same citations
        with different coverage; the largest is the least incomplete)."""
        query = (
            select(citations.c.paper_id, func.max(citations.c.count))
            .where(citations.c.count >= 0)  # UNKNOWN marks "asked, not known there"
            .group_by(citations.c.paper_id)
        )
        with self._db.connect() as conn:
            if ids is None:
                return {pid: n for pid, n in conn.execute(query)}
            out: dict[str, int] = {}
            for chunk in _chunks(list(ids)):
                out.update(
                    {
                        pid: n
                        for pid, n in conn.execute(query.where(citations.c.paper_id.in_(chunk)))
                    }
                )
            return out

    def counts_of(self, ids: Sequence[str]) -> dict[str, dict[str, Count]]:
        """paper id -> source -> count with its date."""
        out: dict[str, dict[str, Count]] = {}
        with self._db.connect() as conn:
            for chunk in _chunks(list(ids)):
                rows = conn.execute(
                    select(citations).where(citations.c.paper_id.in_(chunk), citations.c.count >= 0)
                )
                for r in rows:
                    out.setdefault(r.paper_id, {})[r.source] = Count(
                        r.paper_id, r.source, r._mapping["count"], from_db(r.fetched_at)
                    )
        return out

    def fetched_since(self, ids: Sequence[str], source: str, cutoff: datetime) -> set[str]:
        """Those of `ids` whose `source` count was fetched at or after `cutoff`."""
        out: set[str] = set()
        with self._db.connect() as conn:
            for chunk in _chunks(list(ids)):
                out.update(
                    r[0]
                    for r in conn.execute(
                        select(citations.c.paper_id).where(
                            citations.c.paper_id.in_(chunk),
                            citations.c.source == source,
                            citations.c.fetched_at >= to_db(cutoff),
                        )
                    )
                )
        return out

    def listings_of(self, ids: Sequence[str]) -> dict[str, Listing]:
        out: dict[str, Listing] = {}
        with self._db.connect() as conn:
            for chunk in _chunks(list(ids)):
                for r in conn.execute(select(listings).where(listings.c.paper_id.in_(chunk))):
                    out[r.paper_id] = Listing(r.paper_id, r.venue, r.year, r.status)
        return out

    def listed_ids(
        self, venues: Collection[str] = (), years: tuple[int, int] | None = None
    ) -> set[str]:
        """Papers listed at one of `venues` (any when empty) within `years` (inclusive)."""
        query = select(listings.c.paper_id)
        if venues:
            query = query.where(listings.c.venue.in_(list(venues)))
        if years is not None:
            query = query.where(listings.c.year.between(years[0], years[1]))
        with self._db.connect() as conn:
            return {r[0] for r in conn.execute(query)}

    def published_ids(self, years: tuple[int, int]) -> set[str]:
        """Papers published within `years` (inclusive), listed anywhere or not."""
        start = datetime(years[0], 1, 1)
        stop = datetime(years[1] + 1, 1, 1)
        with self._db.connect() as conn:
            rows = conn.execute(
                select(papers.c.id).where(papers.c.published >= start, papers.c.published < stop)
            )
            return {r[0] for r in rows}

    def venues(self) -> dict[str, int]:
        """Venue key -> how many papers the store lists there."""
        with self._db.connect() as conn:
            rows = conn.execute(select(listings.c.venue, func.count()).group_by(listings.c.venue))
            return {v: n for v, n in rows}

    def aliases_of(self, ids: Iterable[str]) -> dict[str, str]:
        """alias -> the paper it was merged into, for those of `ids` that are aliases."""
        out: dict[str, str] = {}
        with self._db.connect() as conn:
            for chunk in _chunks(list(ids)):
                for r in conn.execute(select(aliases).where(aliases.c.alias.in_(chunk))):
                    out[r.alias] = r.paper_id
        return out

    def last_merge(self) -> datetime | None:
        with self._db.connect() as conn:
            return from_db(conn.execute(select(func.max(aliases.c.created_at))).scalar())


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
