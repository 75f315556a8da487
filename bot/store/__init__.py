"""All persistence: one SQLAlchemy engine, one schema, a repository per concern.

Callers use `Store(url)` and its repositories (`store.papers`, `store.state`, ...); no SQL
lives outside this package, so PostgreSQL can follow SQLite without touching callers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.errors import StoreError
from bot.store import schema
from bot.store.digests import DigestRepo
from bot.store.papers import PaperRepo
from bot.store.queue import QueueRepo
from bot.store.state import StateRepo


class Store:
    def __init__(self, url: str):
        self.url = url
        self.engine = _engine(url)
        self._migrate()
        self.papers = PaperRepo(self)
        self.state = StateRepo(self)
        self.digests = DigestRepo(self)
        self.queue = QueueRepo(self)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction: all of it lands, or none of it does."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def close(self) -> None:
        self.engine.dispose()

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
        except SQLAlchemyError as exc:
            raise StoreError(f"{redacted(self.url)}: cannot open the database: {exc}") from exc
        except schema.TooNewError as exc:
            raise StoreError(f"{redacted(self.url)}: {exc}; upgrade midlist") from None


def _engine(url: str) -> Engine:
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(url)
    except (SQLAlchemyError, ImportError) as exc:
        raise StoreError(f"{redacted(url)}: not a usable storage.url: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    # WAL lets the CLI read while the daemon writes; foreign keys are off by default in SQLite.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def redacted(url: str) -> str:
    """The URL without its password, for messages and summaries."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "storage.url"


__all__ = ["Store", "redacted"]
