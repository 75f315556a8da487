"""The transaction layer every repository writes through: one engine, reads and writes.

Repositories take a `Database`, not the `Store` that holds them, so the store package has no
import cycle: `Store` builds on this class and wires the repositories together.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from bot.store.engine import BUSY_TIMEOUT_SECONDS, WRITE, make_engine, store_failure


class Database:
    def __init__(self, url: str, *, busy_seconds: float = BUSY_TIMEOUT_SECONDS):
        """`busy_seconds`: how long a SQLite write waits for another process's write to end."""
        self.url = url
        self._busy = busy_seconds
        self.engine = make_engine(url, busy_seconds)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One write transaction: all of it lands, or none of it does.

        A store locked past the busy timeout or a full disk is a one-line StoreError."""
        try:
            with self.engine.connect() as conn:
                conn.execution_options(**WRITE)
                with conn.begin():
                    yield conn
        except DBAPIError as exc:
            mapped = store_failure(self.url, exc, self._busy)
            if mapped is None:
                raise
            raise mapped from exc

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def close(self) -> None:
        self.engine.dispose()
