"""The store keeps one row per paper, the newest version, every mention; and migrates without loss."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Column, MetaData, String, Table, Text, create_engine, inspect, text

from bot.errors import StoreError
from bot.store import Store, schema
from bot.store.digests import CLAIM_EXPIRES
from bot.store.schema import digests, papers
from sources.models import Mention, Paper
from tests import pg
from tests.conftest import FIXTURES, migrated_from

pytestmark = pytest.mark.backends

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
T1 = datetime(2025, 4, 1, 12, 0, tzinfo=UTC)


def paper(pid: str = "2405.00001", **kw: object) -> Paper:
    fields: dict[str, object] = {
        "title": "Title",
        "abstract": "Abstract.",
        "version": 1,
        "published": T0,
    }
    fields.update(kw)
    return Paper(id=pid, **fields)  # type: ignore[arg-type]


def test_upsert_counts_new_updated_unchanged(store: Store) -> None:
    assert store.papers.upsert([paper(), paper("2405.00002")]).new == 2
    again = store.papers.upsert([paper(), paper("2405.00002", title="Changed")])
    assert (again.new, again.updated, again.unchanged) == (0, 1, 1)
    assert store.papers.get("2405.00002").title == "Changed"


def test_newer_version_replaces_and_older_never_does(store: Store) -> None:
    store.papers.upsert([paper(version=2, title="v2", updated=T1)])
    older = store.papers.upsert([paper(version=1, title="v1")])
    assert older.unchanged == 1
    store.papers.upsert([paper(version=3, title="v3", published=T1)])
    kept = store.papers.get("2405.00001")
    assert (kept.title, kept.version) == ("v3", 3)
    assert kept.published == T0  # the first version's date stays
    assert store.papers.count() == 1


def test_same_paper_twice_in_one_batch_keeps_the_newest(store: Store) -> None:
    counts = store.papers.upsert([paper(version=2, title="v2"), paper(version=1, title="v1")])
    assert counts.new == 1
    assert store.papers.get("2405.00001").title == "v2"


def test_empty_fields_never_erase_known_ones(store: Store) -> None:
    store.papers.upsert([paper(authors=("A. Author",), categories=("cs.LG",))])
    store.papers.upsert([Paper(id="2405.00001", title="Title", version=1)])
    kept = store.papers.get("2405.00001")
    assert (kept.abstract, kept.authors, kept.categories) == (
        "Abstract.",
        ("A. Author",),
        ("cs.LG",),
    )


def test_mentions_make_placeholders_and_are_recorded_once(store: Store) -> None:
    mention = Mention(
        paper_id="2405.00009", source="reddit", external_id="c1", who="alice", context="great"
    )
    assert store.papers.add_mentions([mention, mention]) == 1
    assert store.papers.add_mentions([mention]) == 0
    assert store.papers.placeholders() == ["2405.00009"]
    store.papers.upsert([paper("2405.00009", title="Real title")])
    assert store.papers.placeholders() == []
    assert store.papers.get("2405.00009").title == "Real title"
    assert store.papers.mentions_of(["2405.00009"])["2405.00009"][0].context == "great"


def test_mention_counts_count_people(store: Store) -> None:
    store.papers.upsert([paper()])
    store.papers.add_mentions(
        [
            Mention(paper_id="2405.00001", source="reddit", external_id="c1", who="alice"),
            Mention(paper_id="2405.00001", source="reddit", external_id="c2", who="alice"),
            Mention(paper_id="2405.00001", source="reddit", external_id="c3", who="bob"),
        ]
    )
    assert store.papers.mention_counts() == {"2405.00001": 2}


def test_non_arxiv_placeholder_keeps_its_title_hint(store: Store) -> None:
    store.papers.add_mentions(
        [
            Mention(
                paper_id="doi:10.1145/1",
                source="feed:x",
                external_id="e1",
                title_hint="A DOI paper",
            )
        ]
    )
    got = store.papers.get("doi:10.1145/1")
    assert (got.title, got.url) == ("A DOI paper", "https://doi.org/10.1145/1")
    assert store.papers.placeholders() == []  # only arXiv ids can be looked up


def test_a_failed_transaction_leaves_the_store_as_it_was(store: Store) -> None:
    store.papers.upsert([paper()])
    with pytest.raises(RuntimeError), store.begin() as conn:
        store.papers.upsert([paper("2405.00002")], conn)
        store.state.put("arxiv", {"cursor": "x"}, conn)
        raise RuntimeError("killed half-way")
    assert store.papers.count() == 1
    assert store.state.get("arxiv") == {}


def test_iter_all_since_filters_by_date(store: Store) -> None:
    store.papers.upsert([paper("2405.00001", published=T0), paper("2405.00002", published=T1)])
    assert [p.id for p in store.papers.iter_all()] == ["2405.00001", "2405.00002"]
    recent = [p.id for p in store.papers.iter_all(since=datetime(2099, 1, 1, tzinfo=UTC))]
    assert recent == []


def test_source_state_round_trip(store: Store) -> None:
    store.state.put("feed:x", {"etag": '"abc"', "modified": "Tue"})
    store.state.put("feed:x", {"etag": '"def"'})
    assert store.state.get("feed:x") == {"etag": '"def"', "modified": "Tue"}


def test_run_log(store: Store) -> None:
    run = store.state.start_run("collect", "arxiv")
    store.state.finish_run(run, ok=False, detail="HTTP 503")
    (last,) = store.state.last_runs("collect")
    assert (last.target, last.ok, last.detail) == ("arxiv", False, "HTTP 503")
    assert store.state.recent_failures()[0].id == run


def test_migration_upgrades_an_old_database_without_loss(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    old = MetaData()
    Table("midlist_meta", old, Column("key", String, primary_key=True), Column("value", Text))
    Table("notes", old, Column("id", String, primary_key=True), Column("body", Text))
    schema.migrate(engine, migrations=[], target=old)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO notes VALUES ('a', 'kept')"))

    def add_column(conn) -> None:  # type: ignore[no-untyped-def]
        conn.execute(text("ALTER TABLE notes ADD COLUMN stars INTEGER NOT NULL DEFAULT 0"))

    assert schema.migrate(engine, migrations=[add_column]) == 2
    assert schema.migrate(engine, migrations=[add_column]) == 2  # idempotent
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, body, stars FROM notes")).all() == [("a", "kept", 0)]
    assert "stars" in {c["name"] for c in inspect(engine).get_columns("notes")}
    engine.dispose()


def test_a_version_4_database_gains_the_index_of_updated_papers(store_url: str) -> None:
    store = Store(store_url)
    store.papers.upsert([paper("2405.00001"), paper("2405.00002")])
    store = migrated_from(store, 4, "DROP INDEX ix_papers_updated")
    try:
        with store.connect() as conn:
            assert schema.current_version(conn) == schema.SCHEMA_VERSION
            found = {i["name"]: i["column_names"] for i in inspect(conn).get_indexes("papers")}
        assert found["ix_papers_updated"] == ["last_seen", "first_seen"]
        store.papers.upsert([paper("2405.00002", version=2, abstract="Revised.")])
        updated = list(store.papers.index_rows(updated_since=T0))
        assert [r[0] for chunk in updated for r in chunk] == ["2405.00002"]
    finally:
        store.close()


def test_an_update_is_stamped_after_the_rows_first_seen_even_from_a_slower_clock(
    store: Store,
) -> None:
    store.papers.upsert([paper("2405.00001")])
    ahead = datetime.now(UTC) + timedelta(hours=1)  # stored by a host whose clock runs ahead
    with store.begin() as conn:
        conn.execute(
            papers.update()
            .values(first_seen=ahead, last_seen=ahead)
            .where(papers.c.id == "2405.00001")
        )
    store.papers.upsert([paper("2405.00001", version=2, abstract="Revised.")])
    updated = [r[0] for chunk in store.papers.index_rows(updated_since=T0) for r in chunk]
    assert updated == ["2405.00001"]


def test_a_database_from_a_newer_midlist_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    Store(url).close()
    engine = create_engine(url)
    with engine.begin() as conn:
        schema.set_version(conn, schema.SCHEMA_VERSION + 1)
    engine.dispose()
    with pytest.raises(StoreError, match="newer than this midlist"):
        Store(url)


def test_unusable_url_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="not a usable storage.url"):
        Store("nosuchdb://x")


def test_placeholders_newest_first_so_old_unknown_ids_do_not_block(store: Store) -> None:
    for i, pid in enumerate(["2405.00011", "2405.00012", "2405.00013"]):
        store.papers.add_mentions([Mention(paper_id=pid, source="reddit", external_id=f"c{i}")])
    assert store.papers.placeholders(limit=2) == ["2405.00013", "2405.00012"]


def test_a_version_2_database_gets_aware_times_announced_and_leases(store_url: str) -> None:
    engine = create_engine(store_url)
    dialect = engine.dialect.name
    # The schema and the naive UTC values version 2 wrote (on PostgreSQL, `claimed_at` was a
    # naive `timestamp` in a database that was migrated to version 2).
    naive = "2026-11-20 08:30:00.000000"
    with engine.begin() as conn:
        script = (FIXTURES / "schema" / f"v2.{dialect}.sql").read_text()
        for statement in script.split(";\n"):
            lines = [line for line in statement.splitlines() if not line.startswith("--")]
            if "".join(lines).strip():
                conn.execute(text("\n".join(lines)))
        stamp = naive if dialect == "sqlite" else naive + "+00"
        conn.execute(
            text(
                "INSERT INTO papers (id, title, abstract, authors, categories, url, source,"
                f" published, first_seen, last_seen, content_hash) VALUES ('2405.00001', 'T', '',"
                f" '[]', '', '', 'arxiv', '2025-03-01 12:00:00{'' if dialect == 'sqlite' else '+00'}',"
                f" '{stamp}', '{stamp}', 'x')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO digests (niche, channel, day, status, payload, progress, attempts,"
                f" created_at, claimed_at) VALUES ('ssm', 'out', '2026-11-20', 'failed', '{{}}',"
                f" '{{}}', 1, '{stamp}', '{naive}')"
            )
        )
    engine.dispose()
    store = Store(store_url)
    record = store.digests.get("ssm", "out", "2026-11-20")
    assert record is not None and record.status == "failed"
    assert record.created_at == record.claimed_at == datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    assert store.digests.claim(record.id, stale_after=timedelta(0))
    kept = store.papers.get("2405.00001")
    assert kept is not None and kept.published == T0 and kept.announced is None
    assert store.papers.arrived(
        after=datetime(2026, 11, 20, 8, tzinfo=UTC), announced_from=T0, announced_to=T1
    ) == ["2405.00001"]
    with store.connect() as conn:
        assert schema.current_version(conn) == schema.SCHEMA_VERSION
    columns = {c["name"]: c for c in inspect(store.engine).get_columns("digests")}
    if dialect == "sqlite":
        with store.connect() as conn:
            raw = conn.execute(text("SELECT first_seen FROM papers")).scalar()
        assert raw == "2026-11-20T08:30:00.000000+00:00"
    else:
        assert columns["claimed_at"]["type"].timezone
    assert "announced" in {c["name"] for c in inspect(store.engine).get_columns("papers")}
    assert store.leases.get("scheduler") is None
    store.close()


# ---- aware times, arrival, upserts ----------------------------------------------------------


def test_times_read_back_as_aware_utc_whatever_zone_they_were_given_in(store: Store) -> None:
    tokyo = datetime(2025, 3, 1, 21, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # 12:00 UTC
    store.papers.upsert([paper(published=tokyo, announced=tokyo)])
    kept = store.papers.get("2405.00001")
    assert kept is not None and kept.published == T0 and kept.announced == T0
    assert kept.published.tzinfo is UTC and kept.announced.tzinfo is UTC  # type: ignore[union-attr]
    store.papers.upsert([paper("2405.00002", published=datetime(2025, 3, 1, 12, 0))])  # naive: UTC
    assert store.papers.get("2405.00002").published == T0  # type: ignore[union-attr]


def test_first_seen_is_set_once_and_arrived_selects_by_it(store: Store) -> None:
    store.papers.upsert([paper("2405.00001", announced=T0)])
    mark = datetime.now(UTC)
    store.papers.upsert([paper("2405.00001", announced=T0, title="v2", version=2)])  # an update
    store.papers.upsert([paper("2405.00002", announced=T0)])
    window = {"announced_from": T0, "announced_to": T1}
    assert store.papers.arrived(after=None, **window) == ["2405.00001", "2405.00002"]
    assert store.papers.arrived(after=mark, **window) == ["2405.00002"]


def test_arrived_takes_announced_in_a_half_open_window_and_falls_back_to_published(
    store: Store,
) -> None:
    store.papers.upsert(
        [
            paper("2405.00001", published=datetime(2020, 1, 1, tzinfo=UTC), announced=T0),
            paper("2405.00002", published=T1, announced=None),  # no announcement: published
            paper("2405.00003", published=T0, announced=T1),  # announced at the window's end
            Paper(id="2405.00004", title="No dates"),
        ]
    )
    found = store.papers.arrived(after=None, announced_from=T0, announced_to=T1)
    assert found == ["2405.00001"]
    later = store.papers.arrived(after=None, announced_from=T1, announced_to=T1 + timedelta(1))
    assert later == ["2405.00002", "2405.00003"]


def test_announced_keeps_the_latest_announcement(store: Store) -> None:
    store.papers.upsert([paper(announced=T1)])
    store.papers.upsert([paper(announced=T0)])  # an older listing seen again
    assert store.papers.get("2405.00001").announced == T1  # type: ignore[union-attr]
    store.papers.upsert([paper()])  # no announcement: keeps what is known
    assert store.papers.get("2405.00001").announced == T1  # type: ignore[union-attr]
    counts = store.papers.upsert([paper(announced=T1 + timedelta(days=1))])
    assert counts.updated == 1


def test_the_same_mention_twice_is_recorded_once(store: Store) -> None:
    seen = Mention(paper_id="2405.00001", source="reddit", external_id="c1", who="u")
    assert store.papers.add_mentions([seen, seen]) == 1
    assert store.papers.add_mentions([seen]) == 0
    assert store.papers.mention_counts() == {"2405.00001": 1}


# ---- the digest ledger: record and claim ----------------------------------------------------


def test_record_and_claim_is_won_once_and_never_resets_a_claim(store: Store) -> None:
    store.papers.upsert([paper("2405.00001")])
    first, won = store.digests.record_and_claim("ssm", "out", "2026-11-20", '{"a": 1}')
    assert won and first.status == "pending" and first.claimed_at is not None
    second, won_again = store.digests.record_and_claim("ssm", "out", "2026-11-20", '{"b": 2}')
    assert not won_again
    assert (second.id, second.payload, second.claimed_at) == (
        first.id,
        '{"a": 1}',
        first.claimed_at,
    )
    assert store.digests.record("ssm", "out", "2026-11-20", '{"c": 3}').payload == '{"a": 1}'
    store.digests.mark_sent(first.id, "ssm", "out", ["2405.00001"])
    _, after_sent = store.digests.record_and_claim("ssm", "out", "2026-11-20", "{}")
    assert not after_sent and not store.digests.claim(first.id)  # a sent digest stays sent


def test_a_stale_claim_is_taken_over_and_force_resends_a_sent_digest(store: Store) -> None:
    record, _ = store.digests.record_and_claim("ssm", "out", "2026-11-20", "{}")
    assert not store.digests.claim(record.id)
    assert store.digests.claim(record.id, stale_after=timedelta(0))  # its holder died
    store.digests.mark_sent(record.id, "ssm", "out", [])
    forced, won = store.digests.record_and_claim(
        "ssm", "out", "2026-11-20", '{"new": 1}', force=True
    )
    assert won and forced.status == "pending" and forced.payload == '{"new": 1}'
    # A forced resend does not take a digest another process is sending right now.
    again, won_again = store.digests.record_and_claim("ssm", "out", "2026-11-20", "{}", force=True)
    assert not won_again and again.payload == '{"new": 1}'


def test_progress_renews_the_claim_so_a_long_send_is_not_taken_over(store: Store) -> None:
    record, _ = store.digests.record_and_claim("ssm", "out", "2026-11-20", "{}")
    with store.begin() as conn:  # the claim is as old as a stale one would be
        conn.execute(
            digests.update().values(claimed_at=datetime.now(UTC) - CLAIM_EXPIRES - timedelta(1))
        )
    store.digests.save_progress(record.id, {"parts": 1})  # ...but the sender is still at work
    assert not store.digests.claim(record.id)
    store.digests.mark_failed(record.id, "boom")
    store.digests.save_progress(record.id, {"parts": 1})  # an unclaimed digest stays unclaimed
    assert store.digests.claim(record.id)


# ---- failures a user can act on -------------------------------------------------------------


def test_a_store_locked_past_the_timeout_is_one_line_and_keeps_what_was_stored(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    store = Store(url, busy_seconds=0.2)
    store.papers.upsert([paper("2405.00001")])
    other = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writing, and taking its time
    try:
        with pytest.raises(StoreError) as caught:
            store.papers.upsert([paper("2405.00002")])
    finally:
        other.execute("ROLLBACK")
        other.close()
    message = str(caught.value)
    assert "\n" not in message
    assert "the store is locked: another process held it for over 0.2 s" in message
    assert "everything stored before it is kept" in message
    assert store.papers.count() == 1
    store.close()


def test_a_full_disk_is_one_line_and_keeps_what_was_stored(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'm.db'}")
    store.papers.upsert([paper("2405.00001")])
    with store.connect() as conn:  # the pooled connection the next write reuses
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
        conn.exec_driver_sql(f"PRAGMA max_page_count = {pages}")
    big = [paper(f"2406.{i:05d}", abstract="x" * 4000) for i in range(200)]
    with pytest.raises(StoreError, match=r"^sqlite:///.*: the disk holding the store is full; "):
        store.papers.upsert(big)
    assert store.papers.count() == 1
    store.close()


def test_times_are_the_same_whatever_the_session_time_zone(pg_server: pg.PgServer) -> None:
    """The server runs in Asia/Tokyo; one client's session is in New York, the other's not set."""
    name = pg_server.new_database()
    new_york = Store(pg_server.url(name, options="-c%20timezone%3DAmerica/New_York"))
    tokyo = Store(pg_server.url(name))
    try:
        with new_york.connect() as conn:
            assert conn.exec_driver_sql("SHOW timezone").scalar() == "America/New_York"
        new_york.papers.upsert([paper(published=T0, announced=T0)])
        record, _ = new_york.digests.record_and_claim("ssm", "out", "2025-03-01", "{}")
        for store in (new_york, tokyo):
            kept = store.papers.get("2405.00001")
            assert kept is not None and (kept.published, kept.announced) == (T0, T0)
            found = store.digests.get("ssm", "out", "2025-03-01")
            assert found is not None and found.claimed_at == record.claimed_at
            assert store.papers.arrived(
                after=None, announced_from=T0, announced_to=T0 + timedelta(seconds=1)
            ) == ["2405.00001"]
        with tokyo.connect() as conn:
            utc = conn.execute(
                text(
                    "SELECT to_char(published AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') FROM papers"
                )
            ).scalar()
        assert utc == "2025-03-01 12:00"
    finally:
        new_york.close()
        tokyo.close()
        pg_server.drop_database(name)


def test_a_row_stored_before_aware_times_is_unchanged_when_seen_again(store: Store) -> None:
    """Its content hash was taken over naive UTC text; the same paper must not count as updated."""
    store.papers.upsert([paper(updated=T1)])
    naive = json.dumps(
        [
            *("Abstract.", "[]", "", None, None, "2405.00001"),  # abstract .. id
            *(str(T0.replace(tzinfo=None)), "Title", str(T1.replace(tzinfo=None))),
            *("https://arxiv.org/abs/2405.00001", 1),  # url, version
        ]
    )  # the hash input as version 2 built it: sorted keys, source left out
    legacy = hashlib.blake2b(naive.encode(), digest_size=16).hexdigest()
    with store.begin() as conn:
        conn.execute(papers.update().values(content_hash=legacy))
    counts = store.papers.upsert([paper(updated=T1)])
    assert (counts.updated, counts.unchanged) == (0, 1)


def test_a_version_2_database_created_fresh_keeps_its_claim_time(pg_server: pg.PgServer) -> None:
    """Created at version 2 (not migrated to it), `claimed_at` was already `timestamptz`: the
    upgrade must not read it as naive UTC and shift it by the session's zone (Asia/Tokyo)."""
    name = pg_server.new_database()
    url = pg_server.url(name)
    engine = create_engine(url)
    script = (FIXTURES / "schema" / "v2.postgresql.sql").read_text()
    script = script.replace("claimed_at TIMESTAMP,", "claimed_at TIMESTAMP WITH TIME ZONE,")
    try:
        with engine.begin() as conn:
            for statement in script.split(";\n"):
                lines = [line for line in statement.splitlines() if not line.startswith("--")]
                if "".join(lines).strip():
                    conn.execute(text("\n".join(lines)))
            conn.execute(
                text(
                    "INSERT INTO digests (niche, channel, day, status, payload, progress,"
                    " attempts, created_at, claimed_at) VALUES ('ssm', 'out', '2026-11-20',"
                    " 'pending', '{}', '{}', 1, '2026-11-20 08:30:00+00', '2026-11-20 08:30:00+00')"
                )
            )
        engine.dispose()
        store = Store(url)
        record = store.digests.get("ssm", "out", "2026-11-20")
        store.close()
        assert record is not None
        assert record.claimed_at == datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    finally:
        engine.dispose()
        pg_server.drop_database(name)


def test_two_writers_updating_one_paper_at_once_keep_the_newest_version(
    pg_server: pg.PgServer,
) -> None:
    """Two processes both read version 1, then update in turn: the one holding version 2 must
    not overwrite the version 3 the other just committed (a row read for update is locked)."""
    import threading
    import time

    name = pg_server.new_database()
    stores = [Store(pg_server.url(name)) for _ in range(3)]
    holder, newer, older = stores
    try:
        holder.papers.upsert([paper(version=1, title="v1")])

        def blocked() -> int:
            with holder.connect() as conn:
                return int(
                    conn.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                            " AND datname = current_database()"
                        )
                    ).scalar_one()
                )

        def wait_for(count: int) -> None:
            deadline = time.monotonic() + 30
            while blocked() < count:
                assert time.monotonic() < deadline, "the writer never reached the row lock"
                time.sleep(0.05)

        with holder.begin() as lock:  # holds the row, as a third writer mid-transaction would
            lock.execute(text("SELECT id FROM papers FOR UPDATE"))
            writers = [
                threading.Thread(
                    target=newer.papers.upsert, args=([paper(version=3, title="v3")],)
                ),
                threading.Thread(
                    target=older.papers.upsert, args=([paper(version=2, title="v2")],)
                ),
            ]
            writers[0].start()
            wait_for(1)  # the v3 writer queues first, so it commits first
            writers[1].start()
            wait_for(2)  # both writers wait on the row
        for writer in writers:
            writer.join(timeout=60)
        kept = holder.papers.get("2405.00001")
        assert kept is not None and (kept.version, kept.title) == (3, "v3")
    finally:
        for store in stores:
            store.close()
        pg_server.drop_database(name)


def test_a_postgresql_store_locked_past_the_timeout_is_one_line_not_a_hang(
    pg_server: pg.PgServer,
) -> None:
    """Another session holds the queue table (a hung process mid-transaction): a write gives up
    after the busy timeout with the same one-line error as on SQLite, instead of waiting forever."""
    import psycopg

    name = pg_server.new_database()
    store = Store(pg_server.url(name), busy_seconds=0.5)
    try:
        store.papers.upsert([paper("2405.00001")])
        with psycopg.connect(
            f"host=127.0.0.1 port={pg_server.port} user={pg.USER} dbname={name}"
        ) as other:
            other.execute("LOCK TABLE queue IN EXCLUSIVE MODE")
            with pytest.raises(StoreError) as caught:
                store.queue.mark("ssm", "2405.00001", "saved")
        message = str(caught.value)
        assert "\n" not in message
        assert "the store is locked: another process held it for over 0.5 s" in message
        assert store.queue.list() == []
        store.queue.mark("ssm", "2405.00001", "saved")  # the lock is gone: the write goes through
        assert [item.paper.id for item in store.queue.list()] == ["2405.00001"]
    finally:
        store.close()
        pg_server.drop_database(name)


def test_a_database_server_that_never_answers_is_a_one_line_error_not_a_hang() -> None:
    """It takes the connection and says nothing (a wedged server or proxy): opening the store
    gives up after the connect timeout."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        with pytest.raises(StoreError, match="cannot open the database") as caught:
            Store(f"postgresql+psycopg://midlist:pw-123456@127.0.0.1:{port}/midlist")
    assert "\n" not in str(caught.value) and "pw-123456" not in str(caught.value)
