"""Every table midlist keeps, and the ordered migrations that build them.

The database records its schema version in `midlist_meta`; opening an older database runs
the missing migrations in one transaction each, so an upgrade never loses rows. Add a
migration to the end of MIGRATIONS, never edit one that has shipped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from bot.store.engine import WRITE
from bot.store.times import UTCDateTime

metadata = MetaData()

meta = Table(
    "midlist_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

papers = Table(
    "papers",
    metadata,
    Column("id", String(255), primary_key=True),  # version-less arXiv id or canonical id
    Column("title", Text, nullable=False),
    Column("abstract", Text, nullable=False, default=""),
    Column("authors", Text, nullable=False, default=""),  # JSON list
    Column("categories", Text, nullable=False, default=""),  # space-separated, primary first
    Column("url", Text, nullable=False, default=""),
    Column("doi", Text),
    Column("comment", Text),
    Column("version", Integer),
    Column("published", UTCDateTime()),
    Column("updated", UTCDateTime()),
    Column("announced", UTCDateTime()),  # when a listing announced it; None for bulk history
    Column("source", String(64), nullable=False, default=""),
    Column("first_seen", UTCDateTime(), nullable=False),
    # Written when the row is created or changes (a new version, an abstract filled in, a new
    # announcement), always after first_seen; not on every sighting. The ranking index re-reads
    # the papers updated since it last ran.
    Column("last_seen", UTCDateTime(), nullable=False),
    Column("content_hash", String(32), nullable=False),
    Index("ix_papers_first_seen", "first_seen"),
    Index("ix_papers_published", "published"),
    Index("ix_papers_announced", "announced"),
    Index("ix_papers_updated", "last_seen", "first_seen"),
)

mentions = Table(
    "mentions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("paper_id", String(255), ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    Column("source", String(128), nullable=False),
    Column("external_id", String(255), nullable=False),
    Column("where_url", Text, nullable=False, default=""),
    Column("seen_at", UTCDateTime(), nullable=False),
    Column("who", String(255)),
    Column("context", Text, nullable=False, default=""),
    Column("score", Integer),
    UniqueConstraint("paper_id", "source", "external_id", name="uq_mention"),
    Index("ix_mentions_paper", "paper_id"),
)

source_state = Table(
    "source_state",
    metadata,
    Column("source", String(128), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),  # collect | digest
    Column("target", String(255), nullable=False),  # source name, or niche/channel
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Column("ok", Boolean),
    Column("detail", Text, nullable=False, default=""),
    Index("ix_runs_kind_target", "kind", "target", "started_at"),
)

digests = Table(
    "digests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("niche", String(255), nullable=False),
    Column("channel", String(255), nullable=False),
    Column("day", String(10), nullable=False),  # local date, YYYY-MM-DD
    Column("status", String(16), nullable=False),  # pending | sent | failed
    Column("payload", Text, nullable=False),  # JSON: the digest as built, resent unchanged
    Column(
        "progress", Text, nullable=False, default="{}"
    ),  # JSON: e.g. Slack thread ts, parts sent
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime()),
    Column("claimed_at", UTCDateTime()),  # set while one process is sending it
    UniqueConstraint("niche", "channel", "day", name="uq_digest"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("channel", String(255), primary_key=True),
    Column("paper_id", String(255), primary_key=True),
    Column("digest_id", Integer, ForeignKey("digests.id", ondelete="CASCADE"), nullable=False),
    Column("delivered_at", UTCDateTime(), nullable=False),
)


def _lease_table(md: MetaData) -> Table:
    """Who leads the schedule of this database: one row per lease name, renewed by its holder."""
    return Table(
        "leases",
        md,
        Column("name", String(64), primary_key=True),
        Column("holder", String(64), nullable=False),  # a token unique to one daemon process
        Column("host", String(255), nullable=False),
        Column("pid", Integer, nullable=False),
        Column("acquired_at", UTCDateTime(), nullable=False),
        Column("heartbeat_at", UTCDateTime(), nullable=False),
        Column("expires_at", UTCDateTime(), nullable=False),
    )


leases = _lease_table(metadata)

queue = Table(
    "queue",
    metadata,
    Column("niche", String(255), primary_key=True),
    Column("paper_id", String(255), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("state", String(16), nullable=False),  # queued | saved | read | skipped
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_queue_state", "niche", "state"),
)

# Where a paper appeared (proceedings lists): venue key (`neurips`), year, status (Oral, Poster).
listings = Table(
    "listings",
    metadata,
    Column("paper_id", String(255), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("venue", String(64), nullable=False),
    Column("year", Integer, nullable=False),
    Column("status", String(64)),
    Index("ix_listings_venue_year", "venue", "year"),
)

# Citation counts per paper and source (`gs` shipped with proceedings lists, `s2` Semantic Scholar).
citations = Table(
    "citations",
    metadata,
    Column("paper_id", String(255), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("source", String(16), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("fetched_at", UTCDateTime(), nullable=False),
)

# Ids a merged duplicate had (`doi:...`, an ACL page) -> the arXiv paper it became.
aliases = Table(
    "aliases",
    metadata,
    Column("alias", String(255), primary_key=True),
    Column("paper_id", String(255), ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)


# MIGRATIONS[i] upgrades a database at version i + 1 to version i + 2. A new database is
# built from `metadata` directly and stamped with SCHEMA_VERSION, so `metadata` always
# describes the newest schema and each migration only describes a change.
def _v2_digest_claims(conn: Connection) -> None:
    """Version 2: a digest can be claimed by the process sending it."""
    conn.execute(text("ALTER TABLE digests ADD COLUMN claimed_at TIMESTAMP"))


# Every time column as of version 2, by table.
_V2_TIMES = {
    "papers": ("published", "updated", "first_seen", "last_seen"),
    "mentions": ("seen_at",),
    "source_state": ("updated_at",),
    "runs": ("started_at", "finished_at"),
    "digests": ("created_at", "sent_at", "claimed_at"),
    "deliveries": ("delivered_at",),
    "queue": ("updated_at",),
}


def _v3_aware_times(conn: Connection) -> None:
    """Version 3: papers.announced, aware UTC in every time column, and the leadership lease.

    Migrating to version 2 added `claimed_at` as a naive `timestamp` on PostgreSQL (its values
    were UTC); a database created at version 2 has it as `timestamptz` already. On
    SQLite the old naive text ('2026-01-01 08:00:00.000000', UTC) becomes ISO with '+00:00'.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE papers ADD COLUMN announced TIMESTAMP WITH TIME ZONE"))
        # Only a database migrated to version 2 has the naive column; one created at version 2
        # has it aware already, and `AT TIME ZONE` would then shift it by the session's zone.
        kind = conn.execute(
            text(
                "SELECT data_type FROM information_schema.columns WHERE table_schema = "
                "current_schema() AND table_name = 'digests' AND column_name = 'claimed_at'"
            )
        ).scalar()
        if kind == "timestamp without time zone":
            conn.execute(
                text(
                    "ALTER TABLE digests ALTER COLUMN claimed_at TYPE TIMESTAMP WITH TIME ZONE "
                    "USING claimed_at AT TIME ZONE 'UTC'"
                )
            )
    else:
        conn.execute(text("ALTER TABLE papers ADD COLUMN announced VARCHAR(32)"))
        for table, columns in _V2_TIMES.items():
            for column in columns:
                conn.execute(
                    text(
                        f"UPDATE {table} SET {column} = replace({column}, ' ', 'T') || "
                        f"CASE WHEN length({column}) = 19 THEN '.000000+00:00' ELSE '+00:00' END "
                        f"WHERE {column} IS NOT NULL AND {column} NOT LIKE '%+00:00'"
                    )
                )
    conn.execute(text("CREATE INDEX ix_papers_announced ON papers (announced)"))
    _lease_table(MetaData()).create(conn)


def _v4_citations(conn: Connection) -> None:
    """Version 4: venue listings, citation counts and the aliases of merged duplicates."""
    for table in (listings, citations, aliases):
        table.create(conn, checkfirst=True)


def _v5_changed_papers(conn: Connection) -> None:
    """Version 5: papers are found by when they last changed (the index re-reads new versions)."""
    conn.execute(
        text("CREATE INDEX IF NOT EXISTS ix_papers_updated ON papers (last_seen, first_seen)")
    )


MIGRATIONS: list[Callable[[Connection], None]] = [
    _v2_digest_claims,
    _v3_aware_times,
    _v4_citations,
    _v5_changed_papers,
]
SCHEMA_VERSION = 1 + len(MIGRATIONS)

# Serialises schema changes between processes opening one PostgreSQL database at once.
_PG_LOCK_KEY = 0x6D69646C697374  # "midlist"


class TooNewError(Exception):
    pass


def migrate(
    engine: Engine,
    migrations: Sequence[Callable[[Connection], None]] | None = None,
    target: MetaData | None = None,
) -> int:
    """Bring the database to the newest schema; each step in its own transaction. Returns the version.

    Safe when several processes open a new or old database at once: each step runs under a
    database-wide lock (SQLite's write lock, a PostgreSQL advisory lock) and re-reads the
    version inside it, so a step another process already ran is not run again.
    """
    steps = MIGRATIONS if migrations is None else migrations
    latest = 1 + len(steps)
    with engine.connect() as conn:
        version = current_version(conn)
    _check(version, latest)
    while version < latest:
        with engine.connect() as conn:
            conn.execution_options(**WRITE)
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    # Wait for another process's migration however long it takes.
                    conn.execute(text("SET LOCAL lock_timeout = 0"))
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
                version = current_version(conn)
                _check(version, latest)
                if version == 0:
                    (target or metadata).create_all(conn)
                    set_version(conn, latest)
                    version = latest
                elif version < latest:
                    steps[version - 1](conn)
                    version += 1
                    set_version(conn, version)
    return latest


def _check(version: int, latest: int) -> None:
    if version > latest:
        raise TooNewError(
            f"the database is at schema version {version}, newer than this midlist ({latest})"
        )


def current_version(conn: Connection) -> int:
    if not conn.dialect.has_table(conn, "midlist_meta"):
        return 0
    row = conn.execute(text("SELECT value FROM midlist_meta WHERE key = 'schema_version'")).first()
    return int(row[0]) if row else 0


def set_version(conn: Connection, version: int) -> None:
    conn.execute(meta.delete().where(meta.c.key == "schema_version"))
    conn.execute(meta.insert().values(key="schema_version", value=str(version)))
