"""`midlist index`, the index's store identity, and picks that depend on the store alone."""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import random
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

import bot.rank
from bot.cli import cli
from bot.config import parse_settings
from bot.rank import rank_niche, store_identity, update_index
from bot.store import Store
from ranking import NicheProfile, TfidfIndex
from sources.models import Mention, Paper
from tests.ranking.corpus import corpus, topic_papers

PROFILES = [
    NicheProfile("ssm", ("selective scan", "linear recurrence", "state space model")),
    NicheProfile("robot", ("grasping", "tactile sensing"), band=None),
    NicheProfile("auction", ("auctions", "mechanism design"), band=(0, 60)),
    NicheProfile("mixed", ("robot", "auction", "scan"), exclude=("tactile",)),
    NicheProfile("seeded", ("linear recurrence",), seeds=("2501.20003",)),
]


def _papers() -> list[Paper]:
    papers = corpus() + topic_papers("ssm", 20, 12) + topic_papers("robot", 20, 12)
    return [
        Paper(
            id=p.id,
            title=p.title,
            abstract=p.abstract,
            categories=("cs.RO",) if p.id[5] == "2" else ("cs.LG",),
            published=datetime(2025, 1, 1 + i % 27, tzinfo=UTC),
        )
        for i, p in enumerate(papers)
    ]


def _filled(tmp_path: Path) -> tuple[Store, list[Paper]]:
    """A SQLite store holding every paper of _papers()."""
    store = Store(f"sqlite:///{tmp_path / 'midlist.db'}")
    papers = _papers()
    store.papers.upsert(papers)
    return store, papers


def _settings(store: Store, index: Path):  # type: ignore[no-untyped-def]
    return parse_settings({"storage": {"url": store.url, "index_dir": str(index)}})


def _picks(settings, store: Store) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return [
        [p.paper_id for p in rank_niche(settings, store, profile, limit=6)[0].picks]
        for profile in PROFILES
    ]


def test_two_indexes_built_with_different_histories_give_the_same_picks(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'midlist.db'}")
    papers = _papers()
    random.Random(7).shuffle(papers)
    grown = _settings(store, tmp_path / "grown")
    for stop in (9, 10, 31, 57, len(papers)):  # the index follows the store as it fills
        store.papers.upsert(papers[:stop])
        _picks(grown, store)
    cold = _settings(store, tmp_path / "cold")  # another machine: one build of the full store
    assert _picks(grown, store) == _picks(cold, store)
    rows = range(len(papers))
    grown_rows = TfidfIndex.load(tmp_path / "grown").ids_of(rows)
    assert grown_rows != TfidfIndex.load(tmp_path / "cold").ids_of(rows)  # histories differ
    assert all(_picks(cold, store))
    store.close()


def test_a_new_version_and_a_filled_placeholder_are_read_again_without_a_rebuild(
    tmp_path: Path,
) -> None:
    store, papers = _filled(tmp_path)
    store.papers.add_mentions(
        [Mention(paper_id="2502.00042", source="reddit", external_id="t1", title_hint="A link")]
    )
    grown = _settings(store, tmp_path / "grown")
    tokamak = NicheProfile("fusion", ("tokamak plasma",), band=None)
    assert rank_niche(grown, store, tokamak)[0].picks == ()
    built = TfidfIndex.load(tmp_path / "grown").segments
    first = papers[0]
    store.papers.upsert(
        [
            replace(
                first, version=2, abstract=first.abstract + " It also controls tokamak plasma."
            ),
            Paper(id="2502.00042", title="Tokamak plasma control", abstract="Tokamak plasma."),
        ]
    )
    found = rank_niche(grown, store, tokamak)[0].picks
    assert {p.paper_id for p in found} == {first.id, "2502.00042"}
    index = TfidfIndex.load(tmp_path / "grown")
    assert [s.name for s in index.segments[: len(built)]] == [s.name for s in built]  # appended
    assert len(index) == len(papers) + 1
    assert rank_niche(grown, store, tokamak)[0] == rank_niche(grown, store, tokamak)[0]
    cold = _settings(store, tmp_path / "cold")
    assert _picks(grown, store) == _picks(cold, store)
    assert rank_niche(grown, store, tokamak)[0] == rank_niche(cold, store, tokamak)[0]
    store.close()


def test_an_update_the_index_does_not_use_moves_the_watermark_and_adds_nothing(
    tmp_path: Path,
) -> None:
    store, papers = _filled(tmp_path)
    settings = _settings(store, tmp_path / "index")
    update_index(settings, store)
    before = TfidfIndex.load(tmp_path / "index")
    store.papers.upsert([replace(p, authors=("A. New",)) for p in papers[:3]])
    after = update_index(settings, store)
    assert [s.name for s in after.segments] == [s.name for s in before.segments]
    assert after.extra["watermark"] > before.extra["watermark"]  # checked: not read again later
    assert TfidfIndex.load(tmp_path / "index").extra["watermark"] == after.extra["watermark"]
    store.close()


def test_a_big_import_or_a_big_update_is_indexed_by_a_streaming_rebuild(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(bot.rank, "ADD_AT_MOST", 5)
    store = Store(f"sqlite:///{tmp_path / 'midlist.db'}")
    papers = _papers()
    store.papers.upsert(papers[:20])
    settings = _settings(store, tmp_path / "index")
    update_index(settings, store)
    names = {s.name for s in TfidfIndex.load(tmp_path / "index").segments}
    store.papers.upsert(papers[20:24])  # a few: appended
    update_index(settings, store)
    grown = TfidfIndex.load(tmp_path / "index").segments
    assert names < {s.name for s in grown} and len(grown) == 2
    caplog.set_level(logging.INFO, logger="bot.rank")
    store.papers.upsert(papers[24:])  # more than ADD_AT_MOST at once: built again
    assert len(update_index(settings, store)) == len(papers)
    assert "are new since the index was last updated; rebuilding it" in caplog.text
    revised = [replace(p, version=2, abstract=p.abstract + " Revised.") for p in papers[:6]]
    store.papers.upsert(revised)
    caplog.clear()
    index = update_index(settings, store)
    assert "over 5 papers arrived or changed since the index was last updated; rebuilding it" in (
        caplog.text
    )
    assert len(index.segments) == 1 and len(index) == len(papers)
    ids = [p.id for p in revised]
    docs = [f"{p.title}\n{p.abstract}" for p in revised]
    dates = [int(p.published.timestamp()) for p in revised if p.published]
    assert index.holds(ids, docs, dates, [p.categories for p in revised]).all()
    store.close()


def test_index_command_builds_and_reports(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("storage:\n  url: sqlite:///midlist.db\n  index_dir: index\n", "utf-8")
    store = Store(f"sqlite:///{tmp_path / 'midlist.db'}")
    store.papers.upsert(_papers())
    result = CliRunner().invoke(cli, ["--config", str(config), "index"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().startswith(f"index: {len(_papers())} papers, ")
    first = json.loads((tmp_path / "index" / "meta.json").read_text())["segments"]
    store.papers.upsert([Paper(id="2502.00001", title="Tokamak plasma", abstract="Tokamaks.")])
    again = CliRunner().invoke(cli, ["--config", str(config), "index"])
    assert again.output.strip().startswith(f"index: {len(_papers()) + 1} papers, ")
    assert json.loads((tmp_path / "index" / "meta.json").read_text())["segments"][0] == first[0]
    rebuilt = CliRunner().invoke(cli, ["--config", str(config), "index", "--rebuild"])
    assert rebuilt.exit_code == 0
    assert json.loads((tmp_path / "index" / "meta.json").read_text())["segments"] != first
    store.close()


def test_the_index_names_its_store_without_the_password(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'midlist.db'}")
    store.url = "postgresql+psycopg://alice:s3cret-pw@db.example/midlist"  # as a team's URL reads
    store.papers.upsert(_papers()[:5])
    update_index(_settings(store, tmp_path / "index"), store)
    meta = (tmp_path / "index" / "meta.json").read_text()
    assert "s3cret-pw" not in meta and "alice" not in meta
    assert json.loads(meta)["extra"]["store"] == store_identity(store)
    assert store_identity(store).endswith(store.store_id)
    store.close()


def test_another_database_at_the_same_url_is_not_taken_for_the_indexed_one(tmp_path: Path) -> None:
    first = Store(f"sqlite:///{tmp_path / 'midlist.db'}")
    first.papers.upsert(_papers()[:5])
    settings = _settings(first, tmp_path / "index")
    update_index(settings, first)
    first.close()
    (tmp_path / "midlist.db").unlink()
    second = Store(f"sqlite:///{tmp_path / 'midlist.db'}")  # recreated: same URL, new store id
    second.papers.upsert(_papers()[5:10])
    index = update_index(settings, second)
    assert sorted(index.row_of) == sorted(p.id for p in _papers()[5:10])
    second.close()


def _store_id(url: str, out: mp.Queue) -> None:  # type: ignore[type-arg]
    store = Store(url)
    out.put(store.store_id)
    store.close()


def test_processes_opening_a_new_store_at_once_agree_on_its_id(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'midlist.db'}"
    Store(url).close()  # the schema exists; the id does not yet
    context = mp.get_context("spawn")
    queue: mp.Queue = context.Queue()  # type: ignore[type-arg]
    workers = [context.Process(target=_store_id, args=(url, queue)) for _ in range(4)]
    for w in workers:
        w.start()
    ids = {queue.get(timeout=60) for _ in workers}
    for w in workers:
        w.join()
    assert len(ids) == 1 and ids == {Store(url).store_id}
