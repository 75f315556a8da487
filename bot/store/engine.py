"""The SQLAlchemy engine for a storage URL, and what its failures mean to a user.

On SQLite every write transaction starts with `BEGIN IMMEDIATE`: it takes the write lock up
front (waiting up to the busy timeout), so two processes that read then write never deadlock
or fail with "database is locked" half-way. Reads start a plain deferred transaction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from bot.errors import StoreError

BUSY_TIMEOUT_SECONDS = 10
CONNECT_TIMEOUT_SECONDS = 10  # PostgreSQL; `?connect_timeout=N` in the URL overrides it
# Execution options of a connection whose transaction writes: `conn.execution_options(**WRITE)`.
WRITE = {"midlist_write": True}
_KEPT = "this write was rolled back; everything stored before it is kept"


def make_engine(url: str, busy_seconds: float = BUSY_TIMEOUT_SECONDS) -> Engine:
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        parsed = make_url(url)
        options: dict[str, Any] = {}
        if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
            # A server that takes the connection but never answers would hang every command.
            options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
        engine = create_engine(url, **options)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise StoreError(f"{redacted(url)}: not a usable storage.url: {_why(exc)}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", lambda conn, _record: _sqlite_connect(conn, busy_seconds))
        event.listen(engine, "begin", _sqlite_begin)
    elif engine.dialect.name == "postgresql":
        event.listen(engine, "connect", lambda conn, _record: _pg_connect(conn, busy_seconds))
    return engine


def _pg_connect(dbapi_conn: Any, busy_seconds: float) -> None:
    """A wait for another session's lock ends after the busy timeout, as on SQLite; without
    it a process hung mid-transaction would make every later write wait forever."""
    cur = dbapi_conn.cursor()
    cur.execute(f"SET lock_timeout = {max(1, int(busy_seconds * 1000))}")
    cur.close()
    dbapi_conn.commit()  # a SET in a transaction rolled back later would be undone


def _sqlite_connect(dbapi_conn: Any, busy_seconds: float) -> None:
    # Transactions are begun by `_sqlite_begin`, not by the driver (which would defer the lock).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    # WAL lets the CLI read while the daemon writes; foreign keys are off by default in SQLite.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={int(busy_seconds * 1000)}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get("midlist_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def store_failure(
    url: str, exc: DBAPIError, busy_seconds: float = BUSY_TIMEOUT_SECONDS
) -> StoreError | None:
    """A one-line StoreError for a locked store or a full disk; None for anything else."""
    text = str(getattr(exc, "orig", exc)).lower()
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
    where = redacted(url)
    # 55P03: PostgreSQL's lock_timeout ran out waiting for another session's lock.
    if "database is locked" in text or "database is busy" in text or sqlstate == "55P03":
        return StoreError(
            f"{where}: the store is locked: another process held it for over "
            f"{busy_seconds:g} s; {_KEPT}. Run again when it is done"
        )
    if "disk is full" in text or "no space left" in text or sqlstate == "53100":
        return StoreError(
            f"{where}: the disk holding the store is full; {_KEPT}. Free space and run again"
        )
    return None


def url_problem(url: str) -> str | None:
    """Why `url` cannot be opened here (its form, or its driver is not installed), without
    connecting; None when it can. For `midlist check`, so a missing driver shows before a run."""
    try:
        dialect = make_url(url).get_dialect()
        dialect.import_dbapi()
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        return f"{redacted(url)}: not a usable storage.url: {_why(exc)}"
    return None


def _why(exc: BaseException) -> str:
    if isinstance(exc, ImportError) and "psycopg" in str(exc):
        return f"{exc}; install the PostgreSQL driver with `pip install 'midlist[postgres]'`"
    return str(exc)


def redacted(url: str) -> str:
    """The URL without its password, for messages and summaries."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "storage.url"


def insert_for(conn: Connection, table: Any) -> Any:
    """`INSERT` with this dialect's `ON CONFLICT` clauses (PostgreSQL and SQLite share them)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    raise StoreError(f"storage.url: {conn.dialect.name} is not supported; use SQLite or PostgreSQL")
