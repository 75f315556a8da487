"""Reading-queue state per niche and paper: queued, saved, read, skipped.

A delivered paper enters as `queued`; the user moves it with Slack buttons or `midlist queue`.
Saved and read papers teach the ranker what the niche is, skipped ones what it is not.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from bot.errors import MidlistError
from bot.store.db import Database
from bot.store.engine import insert_for
from bot.store.papers import PaperRepo
from bot.store.schema import queue
from bot.store.times import from_db, now
from sources.ids import parse_arxiv_id
from sources.links import canonical, doi_key
from sources.models import Paper

STATES = ("queued", "saved", "read", "skipped")


class QueueError(MidlistError):
    """A queue change that cannot be made: unknown paper or state."""


@dataclass(frozen=True, slots=True)
class Marked:
    paper_id: str  # the store key the input resolved to
    state: str
    previous: str | None  # None when the paper was not in this niche's queue


@dataclass(frozen=True, slots=True)
class QueueItem:
    niche: str
    state: str
    updated_at: datetime
    paper: Paper


class QueueRepo:
    def __init__(self, db: Database, papers: PaperRepo):
        self._db = db
        self._papers = papers  # a queued paper must be stored

    def states(self, niche: str) -> dict[str, str]:
        with self._db.connect() as conn:
            rows = conn.execute(
                select(queue.c.paper_id, queue.c.state).where(queue.c.niche == niche)
            )
            return {pid: state for pid, state in rows}

    def enqueue(self, niche: str, paper_ids: Iterable[str], conn: Connection | None = None) -> int:
        """Add delivered papers as `queued`; a paper already in the queue keeps its state."""
        if conn is None:
            with self._db.begin() as own:
                return self.enqueue(niche, paper_ids, own)
        ids = sorted(set(paper_ids))
        if not ids:
            return 0
        stamp = now()
        added: list[str] = list(
            conn.execute(
                insert_for(conn, queue)
                .on_conflict_do_nothing(index_elements=["niche", "paper_id"])
                .returning(queue.c.paper_id),
                [
                    {"niche": niche, "paper_id": p, "state": "queued", "updated_at": stamp}
                    for p in ids
                ],
            ).scalars()
        )
        return len(added)

    def mark(self, niche: str, paper_id: str, state: str) -> Marked:
        """Set a paper's state in a niche, adding it to the queue if it was not there.

        `paper_id` may be any spelling of the id (version, `arXiv:` prefix, abs/pdf URL). A paper
        the store has never seen is refused: feedback on a paper the ranker cannot read teaches nothing.
        """
        if state not in STATES:
            raise QueueError(f"unknown state {state!r}; use one of {', '.join(STATES)}")
        key = normalise_id(paper_id)
        with self._db.begin() as conn:
            if not self._papers.existing_ids([key], conn):
                raise QueueError(
                    f"no paper {key!r} in the store; collect or import it first "
                    "(`midlist collect`), or check the id with `midlist queue list`"
                )
            previous = conn.execute(
                select(queue.c.state).where(queue.c.niche == niche, queue.c.paper_id == key)
            ).scalar()
            stamp = now()
            if previous != state:
                conn.execute(
                    insert_for(conn, queue)
                    .values(niche=niche, paper_id=key, state=state, updated_at=stamp)
                    .on_conflict_do_update(
                        index_elements=["niche", "paper_id"],
                        set_={"state": state, "updated_at": stamp},
                    )
                )
        return Marked(key, state, previous)

    def list(
        self, niche: str | None = None, states: Sequence[str] | None = None
    ) -> list[QueueItem]:
        """Queue entries with their papers, most recently changed first."""
        bad = [s for s in states or () if s not in STATES]
        if bad:
            raise QueueError(f"unknown state {bad[0]!r}; use one of {', '.join(STATES)}")
        query = select(queue).order_by(queue.c.updated_at.desc(), queue.c.paper_id)
        if niche is not None:
            query = query.where(queue.c.niche == niche)
        if states:
            query = query.where(queue.c.state.in_(list(states)))
        with self._db.connect() as conn:
            rows = list(conn.execute(query))
        papers = self._papers.get_many([r.paper_id for r in rows])
        return [
            QueueItem(r.niche, r.state, from_db(r.updated_at), papers[r.paper_id])
            for r in rows
            if r.paper_id in papers
        ]

    def counts(self, niche: str | None = None) -> dict[str, int]:
        """How many papers are in each state (every state present, zero when empty)."""
        query = select(queue.c.state, func.count()).group_by(queue.c.state)
        if niche is not None:
            query = query.where(queue.c.niche == niche)
        with self._db.connect() as conn:
            found = {state: n for state, n in conn.execute(query)}
        return {state: found.get(state, 0) for state in STATES}


def normalise_id(text: str) -> str:
    """The store key for an id as a user types or pastes it: a bare or prefixed arXiv id with or
    without version, `doi:...`, or any paper URL the link extractor knows (abs, pdf, DOI, ...)."""
    text = text.strip()
    parsed = parse_arxiv_id(text)
    if parsed is not None:
        return parsed.base
    found = None
    if "://" in text:
        found = canonical(text)
    elif text.lower().startswith("doi:"):
        found = doi_key(text[4:])
    elif text.startswith("10."):
        found = doi_key(text)
    return found[0] if found else text
