"""Papers and mentions: one row per paper, the latest version kept, every sighting recorded."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, literal, select

from bot.store.db import Database
from bot.store.engine import insert_for
from bot.store.schema import mentions, papers
from bot.store.times import from_db, now, to_db
from sources.ids import is_arxiv_key, paper_url
from sources.models import Mention, Paper

_CHUNK = 500  # ids per IN (...) query: well under every backend's parameter limit
_UPDATED = [c.name for c in papers.columns if c.name not in ("first_seen",)]
_UPDATE = (
    papers.update()
    .where(papers.c.id == bindparam("v_id"))
    .values({name: bindparam(f"v_{name}") for name in _UPDATED if name != "id"})
)


@dataclass(slots=True)
class UpsertCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: UpsertCounts) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged


class PaperRepo:
    def __init__(self, db: Database):
        self._db = db

    # ---- writes ---------------------------------------------------------------------------

    def upsert(self, batch: Iterable[Paper], conn: Connection | None = None) -> UpsertCounts:
        """Insert new papers, update changed ones, keep the newest version; one transaction.

        New rows go in with `INSERT ... ON CONFLICT DO NOTHING`, so another process storing the
        same paper at the same moment is no error: the row it wrote is merged with ours instead.
        `first_seen` is written only by the insert that creates a row."""
        if conn is None:
            with self._db.begin() as own:
                return self.upsert(batch, own)
        latest: dict[str, Paper] = {}
        for paper in batch:
            held = latest.get(paper.id)
            if held is None or not _older(paper, held):
                latest[paper.id] = paper if held is None else _merge(held, paper)
        counts = UpsertCounts()
        stamp = now()
        ids = sorted(latest)  # one lock order for every writer: no deadlock between two imports
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            stored = self._rows(chunk, conn)
            fresh = [
                {**_row(latest[pid]), "first_seen": stamp, "last_seen": stamp}
                for pid in chunk
                if pid not in stored
            ]
            if fresh:
                inserted: set[str] = set(
                    conn.execute(
                        insert_for(conn, papers)
                        .on_conflict_do_nothing(index_elements=["id"])
                        .returning(papers.c.id),
                        fresh,
                    ).scalars()
                )
                counts.new += len(inserted)
                lost = [r["id"] for r in fresh if r["id"] not in inserted]
                if lost:  # another writer inserted them since we looked: merge with theirs
                    stored.update(self._rows(lost, conn))
            changing = [p for p in chunk if p in stored and _merged(latest[p], stored[p])]
            if changing:  # read again, locked: merge with what is there when we write
                stored.update(self._rows(changing, conn, lock=True))
            updates: list[dict[str, Any]] = []
            for pid in chunk:
                row = stored.get(pid)
                if row is None:
                    continue
                values = _merged(latest[pid], row)
                if values is None:
                    counts.unchanged += 1
                    continue
                # After first_seen even when another writer (or another host's clock) stored the
                # row later than our stamp: the index finds updates by last_seen > first_seen.
                changed_at = max(stamp, from_db(row.first_seen) + timedelta(microseconds=1))
                updates.append({**values, "last_seen": changed_at})
            if updates:
                conn.execute(_UPDATE, [{f"v_{k}": v for k, v in u.items()} for u in updates])
                counts.updated += len(updates)
        return counts

    def add_mentions(self, found: Iterable[Mention], conn: Connection | None = None) -> int:
        """Record sightings; a paper not stored yet gets a placeholder row to be filled later.

        A sighting already recorded (by this or another process) is skipped, not an error."""
        if conn is None:
            with self._db.begin() as own:
                return self.add_mentions(found, own)
        found = list(found)
        if not found:
            return 0
        have = self.existing_ids({m.paper_id for m in found}, conn)
        placeholders = {
            m.paper_id: Paper(
                id=m.paper_id,
                title=m.title_hint or m.paper_id,
                url=paper_url(m.paper_id),
                source=m.source,
            )
            for m in found
            if m.paper_id not in have
        }
        if placeholders:
            self.upsert(placeholders.values(), conn)
        rows: dict[tuple[str, str, str], dict[str, Any]] = {}
        for m in found:
            rows.setdefault(
                (m.paper_id, m.source, m.external_id),
                {
                    "paper_id": m.paper_id,
                    "source": m.source,
                    "external_id": m.external_id,
                    "where_url": m.where,
                    "seen_at": m.seen_at or now(),
                    "who": m.who,
                    "context": m.context,
                    "score": m.score,
                },
            )
        if not rows:
            return 0
        added: list[int] = list(
            conn.execute(
                insert_for(conn, mentions)
                .on_conflict_do_nothing(index_elements=["paper_id", "source", "external_id"])
                .returning(mentions.c.id),
                [rows[key] for key in sorted(rows)],
            ).scalars()
        )
        return len(added)

    def arrived(
        self, *, after: datetime | None, announced_from: datetime, announced_to: datetime
    ) -> list[str]:
        """Ids of papers first seen after `after` (all when None) and announced in
        [announced_from, announced_to); a paper with no announcement date counts its `published`.

        What a digest calls new: arrived since the last one, announced recently, so a bulk
        import of history is not news and a day the collector missed is caught up."""
        when = func.coalesce(papers.c.announced, papers.c.published)
        query = (
            select(papers.c.id)
            .where(
                when >= literal(announced_from, papers.c.announced.type),
                when < literal(announced_to, papers.c.announced.type),
            )
            .order_by(papers.c.id)
        )
        if after is not None:
            query = query.where(papers.c.first_seen > after)
        with self._db.connect() as conn:
            return list(conn.execute(query).scalars())

    def _rows(self, ids: Sequence[str], conn: Connection, *, lock: bool = False) -> dict[str, Any]:
        """The stored rows; with `lock`, locked until this transaction ends (PostgreSQL; SQLite
        has one writer at a time), so another writer cannot replace what an update merges with."""
        query = select(papers).where(papers.c.id.in_(ids)).order_by(papers.c.id)
        if lock:
            query = query.with_for_update()
        return {row.id: row for row in conn.execute(query)}

    # ---- reads ----------------------------------------------------------------------------

    def get(self, paper_id: str) -> Paper | None:
        found = self.get_many([paper_id])
        return found.get(paper_id)

    def get_many(self, ids: Sequence[str]) -> dict[str, Paper]:
        out: dict[str, Paper] = {}
        with self._db.connect() as conn:
            for start in range(0, len(ids), _CHUNK):
                chunk = list(ids[start : start + _CHUNK])
                for row in conn.execute(select(papers).where(papers.c.id.in_(chunk))):
                    out[row.id] = _paper(row)
        return out

    def existing_ids(self, ids: Iterable[str], conn: Connection | None = None) -> set[str]:
        ids = list(ids)
        if conn is None:
            with self._db.connect() as own:
                return self.existing_ids(ids, own)
        out: set[str] = set()
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            out.update(
                r[0] for r in conn.execute(select(papers.c.id).where(papers.c.id.in_(chunk)))
            )
        return out

    def placeholders(self, limit: int = 1000) -> list[str]:
        """arXiv ids seen only as links so far, newest first: their metadata is still to be looked up.

        Newest first, so ids arXiv never heard of (typos) sink instead of blocking the new ones."""
        with self._db.connect() as conn:
            rows = conn.execute(
                select(papers.c.id)
                .where(papers.c.abstract == "", papers.c.version.is_(None))
                .order_by(papers.c.first_seen.desc(), papers.c.id)
                .limit(limit)
            )
            return [r[0] for r in rows if is_arxiv_key(r[0])]

    def count(self) -> int:
        with self._db.connect() as conn:
            return conn.execute(select(func.count()).select_from(papers)).scalar_one()

    def iter_all(self, since: datetime | None = None, batch: int = 5000) -> Iterator[Paper]:
        """Every paper (first seen or published on/after `since`), streamed in id order."""
        query = select(papers).order_by(papers.c.id)
        if since is not None:
            cutoff = to_db(since)
            query = query.where((papers.c.published >= cutoff) | (papers.c.first_seen >= cutoff))
        with self._db.connect() as conn:
            result = conn.execution_options(yield_per=batch).execute(query)
            for row in result:
                yield _paper(row)

    def mention_counts(self) -> dict[str, int]:
        """Distinct people (or sources) that mentioned each paper; a popularity signal."""
        who = func.coalesce(mentions.c.who, mentions.c.source + ":" + mentions.c.external_id)
        with self._db.connect() as conn:
            rows = conn.execute(
                select(mentions.c.paper_id, func.count(func.distinct(who))).group_by(
                    mentions.c.paper_id
                )
            )
            return {pid: n for pid, n in rows}

    def mentions_of(self, ids: Sequence[str]) -> dict[str, list[Mention]]:
        out: dict[str, list[Mention]] = {}
        with self._db.connect() as conn:
            for start in range(0, len(ids), _CHUNK):
                chunk = list(ids[start : start + _CHUNK])
                rows = conn.execute(
                    select(mentions)
                    .where(mentions.c.paper_id.in_(chunk))
                    .order_by(mentions.c.seen_at)
                )
                for r in rows:
                    out.setdefault(r.paper_id, []).append(
                        Mention(
                            paper_id=r.paper_id,
                            source=r.source,
                            external_id=r.external_id,
                            where=r.where_url,
                            seen_at=from_db(r.seen_at),
                            who=r.who,
                            context=r.context,
                            score=r.score,
                        )
                    )
        return out

    def index_rows(
        self,
        ids: Sequence[str] | None = None,
        chunk: int = 5000,
        *,
        updated_since: datetime | None = None,
    ) -> Iterator[list[tuple[str, str, str, str, datetime | None]]]:
        """What the ranking index reads, streamed straight from SQL in lists of `chunk` plain
        tuples (id, title, abstract, categories, date), oldest first; no Paper objects.

        The date is published, else updated, else first_seen. With `ids`, only those papers;
        with `updated_since`, only papers whose row changed after it was first stored (a new
        version, an abstract filled in) on or after that time."""
        date = func.coalesce(papers.c.published, papers.c.updated, papers.c.first_seen)
        query = select(
            papers.c.id, papers.c.title, papers.c.abstract, papers.c.categories, date
        ).order_by(date, papers.c.id)
        if updated_since is not None:  # read through ix_papers_updated: (last_seen, first_seen)
            query = query.where(
                papers.c.last_seen >= to_db(updated_since), papers.c.last_seen > papers.c.first_seen
            )
        with self._db.connect() as conn:
            if ids is not None:
                for start in range(0, len(ids), _CHUNK):
                    rows = conn.execute(query.where(papers.c.id.in_(ids[start : start + _CHUNK])))
                    yield [(r[0], r[1], r[2], r[3], from_db(r[4])) for r in rows]
                return
            result = conn.execution_options(yield_per=chunk).execute(query)
            for part in result.partitions(chunk):
                yield [(r[0], r[1], r[2], r[3], from_db(r[4])) for r in part]

    def index_ids(self, since: datetime, chunk: int = 5000) -> Iterator[list[str]]:
        """Ids of the papers first seen on/after `since`, newest first, in lists of `chunk`:
        read down the first_seen index, so the ranking index can stop once it has found the
        papers it lacks."""
        query = (
            select(papers.c.id)
            .where(papers.c.first_seen >= to_db(since))
            .order_by(papers.c.first_seen.desc())
        )
        with self._db.connect() as conn:
            result = conn.execution_options(yield_per=chunk).execute(query)
            for part in result.partitions(chunk):
                yield [r[0] for r in part]


# ---- row <-> Paper ----------------------------------------------------------------------------


def _merged(incoming: Paper, row: Any) -> dict[str, Any] | None:
    """The row's new column values with `incoming` merged in; None when nothing would change
    (an older version, or the same content)."""
    old = _paper(row)
    if _older(incoming, old):
        return None
    values = _row(_merge(old, incoming))
    if (values["content_hash"], values["announced"]) == (row.content_hash, from_db(row.announced)):
        return None
    return values


def _older(incoming: Paper, stored: Paper) -> bool:
    return (
        incoming.version is not None
        and stored.version is not None
        and incoming.version < stored.version
    )


def _merge(old: Paper, new: Paper) -> Paper:
    """The newer record wins, but an empty field never erases what we already know."""
    keep = {
        name: getattr(old, name)
        for name in (
            "abstract",
            "authors",
            "categories",
            "url",
            "published",
            "updated",
            "version",
            "doi",
            "comment",
        )
        if not getattr(new, name) and getattr(old, name)
    }
    if new.title == new.id and old.title:  # a placeholder title
        keep["title"] = old.title
    if old.published and new.published and old.published < new.published:
        keep["published"] = old.published  # first version's date stays the publication date
    if old.announced and (new.announced is None or old.announced > new.announced):
        keep["announced"] = old.announced  # the latest announcement seen
    keep["source"] = old.source or new.source
    return replace(new, **keep)


def _row(p: Paper) -> dict[str, Any]:
    values = {
        "id": p.id,
        "title": p.title,
        "abstract": p.abstract,
        "authors": json.dumps(list(p.authors), ensure_ascii=False),
        "categories": " ".join(p.categories),
        "url": p.url or paper_url(p.id),
        "doi": p.doi,
        "comment": p.comment,
        "version": p.version,
        "published": to_db(p.published),
        "updated": to_db(p.updated),
        "source": p.source,
    }
    digest = hashlib.blake2b(
        json.dumps(
            [values[k] for k in sorted(values) if k != "source"], default=_hashed_time
        ).encode(),
        digest_size=16,
    )
    values["content_hash"] = digest.hexdigest()
    # Not hashed: the hash of every stored row stays valid, and it is compared on its own.
    values["announced"] = to_db(p.announced)
    return values


def _hashed_time(value: Any) -> str:
    """Times enter the hash as the naive UTC text earlier versions hashed, so a stored row's
    hash still matches the same paper seen again."""
    if isinstance(value, datetime):
        return str(value.astimezone(UTC).replace(tzinfo=None))
    return str(value)


def _paper(row: Any) -> Paper:
    return Paper(
        id=row.id,
        title=row.title,
        abstract=row.abstract,
        authors=tuple(json.loads(row.authors)) if row.authors else (),
        categories=tuple(row.categories.split()) if row.categories else (),
        url=row.url,
        published=from_db(row.published),
        updated=from_db(row.updated),
        announced=from_db(row.announced),
        version=row.version,
        doi=row.doi,
        comment=row.comment,
        source=row.source,
    )
