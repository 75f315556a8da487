"""The store keeps one row per paper, the newest version, every mention; and migrates without loss."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Column, MetaData, String, Table, Text, create_engine, inspect, text

from bot.errors import StoreError
from bot.store import Store, schema
from sources.models import Mention, Paper

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


def test_a_version_1_database_gains_digest_claims_and_keeps_its_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'v1.db'}"
    engine = create_engine(url)
    schema.metadata.create_all(engine)
    with engine.begin() as conn:  # the schema as version 1 shipped it
        conn.execute(text("ALTER TABLE digests DROP COLUMN claimed_at"))
        schema.set_version(conn, 1)
        conn.execute(
            text(
                "INSERT INTO digests (niche, channel, day, status, payload, progress, attempts,"
                " created_at) VALUES ('ssm', 'out', '2026-11-20', 'failed', '{}', '{}', 1,"
                " '2026-11-20 08:30:00')"
            )
        )
    engine.dispose()
    store = Store(url)
    record = store.digests.get("ssm", "out", "2026-11-20")
    assert record is not None and record.status == "failed"
    assert store.digests.claim(record.id)
    with store.connect() as conn:
        assert schema.current_version(conn) == schema.SCHEMA_VERSION
    store.close()
