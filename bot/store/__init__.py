"""All persistence: one SQLAlchemy engine, one schema, a repository per concern.

Callers use `Store(url)` and its repositories (`store.papers`, `store.state`, ...); no SQL
lives outside this package, so SQLite and PostgreSQL serve the same callers. Every time the
API takes or returns is aware UTC.
"""

from __future__ import annotations

import uuid
from functools import cached_property

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from bot.errors import StoreError
from bot.store import schema
from bot.store.citations import CitationRepo
from bot.store.db import Database
from bot.store.digests import DigestRepo
from bot.store.engine import BUSY_TIMEOUT_SECONDS, redacted, store_failure
from bot.store.leases import LeaseRepo
from bot.store.papers import PaperRepo
from bot.store.queue import QueueRepo
from bot.store.state import StateRepo


class Store(Database):
    """The database and its repositories, one per concern."""

    def __init__(self, url: str, *, busy_seconds: float = BUSY_TIMEOUT_SECONDS):
        super().__init__(url, busy_seconds=busy_seconds)
        self._migrate()
        self.papers = PaperRepo(self)
        self.state = StateRepo(self)
        self.queue = QueueRepo(self, self.papers)
        self.digests = DigestRepo(self, self.queue)
        self.leases = LeaseRepo(self)
        self.citations = CitationRepo(self)

    @cached_property
    def store_id(self) -> str:
        """A random id kept in the database: tells this store from another without its URL.

        Created on first use; when two processes race, both insert-if-absent and read back the
        one that landed."""
        query = select(schema.meta.c.value).where(schema.meta.c.key == "store_id")
        with self.connect() as conn:
            found = conn.execute(query).scalar()
        if found is None:
            try:
                with self.begin() as conn:
                    conn.execute(
                        schema.meta.insert().values(key="store_id", value=uuid.uuid4().hex)
                    )
            except IntegrityError:
                pass  # another process stored its id first
            with self.connect() as conn:
                found = conn.execute(query).scalar_one()
        return str(found)

    def _migrate(self) -> None:
        try:
            schema.migrate(self.engine)
        except DBAPIError as exc:
            mapped = store_failure(self.url, exc, self._busy)
            raise (mapped or _cannot_open(self.url, exc)) from exc
        except SQLAlchemyError as exc:
            raise _cannot_open(self.url, exc) from exc
        except schema.TooNewError as exc:
            raise StoreError(f"{redacted(self.url)}: {exc}; upgrade midlist") from None


def _cannot_open(url: str, exc: Exception) -> StoreError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return StoreError(f"{redacted(url)}: cannot open the database: {first}")


__all__ = ["Store", "StoreError", "redacted"]
