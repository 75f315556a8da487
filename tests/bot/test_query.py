"""`midlist query` and bot.rank on a temporary store and index."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli.query import parse_keywords, parse_since
from bot.config import Niche, parse_settings
from bot.rank import profile_for, rank_niche
from bot.store import Store
from ranking import NicheProfile, TfidfIndex
from sources.models import Mention, Paper
from tests.conftest import CliRun, ConfigFile, run_cli
from tests.ranking.corpus import corpus, topic_papers

KEYS = {"id", "title", "url", "score", "percentile", "reasons"}


@pytest.fixture
def config(config_file: ConfigFile) -> Path:
    niche = {"name": "ssm", "keywords": ["selective scan", "linear recurrence"]}
    return config_file(niches=[{**niche, "band": "top", "size": 2}])


@pytest.fixture
def filled(config: Path) -> Store:
    store = Store(f"sqlite:///{config.parent / 'midlist.db'}")
    dated = [
        Paper(
            id=p.id,
            title=p.title,
            abstract=p.abstract,
            published=datetime(2025, 1, 1 + i % 20, tzinfo=UTC),
        )
        for i, p in enumerate(corpus())
    ]
    store.papers.upsert(dated)
    yield store
    store.close()


def _query(config: Path, *args: str, env: dict[str, str] | None = None) -> CliRun:
    return run_cli(config, "query", *args, env=env)


def test_json_lists_ranked_papers_with_the_documented_keys(config: Path, filled: Store) -> None:
    code, out = _query(
        config, "selective scan, linear recurrence", "--json", "--band", "top", "--limit", "3"
    )
    assert code == 0, out
    records = json.loads(out)
    assert len(records) == 3 and all(KEYS <= set(r) for r in records)
    assert all(r["id"].startswith("2501.3") for r in records)  # the state space papers
    assert (
        records[0]["percentile"] == 0
        and records[0]["url"] == f"https://arxiv.org/abs/{records[0]['id']}"
    )
    assert (config.parent / "index" / "meta.json").is_file()


def test_table_fits_80_columns(config: Path, filled: Store) -> None:
    code, out = _query(config, '"selective scan" recurrence', "--limit", "4")
    assert code == 0, out
    assert "picks, band 15-40% of a" in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_table_fits_a_narrower_terminal_and_shows_whole_ids(config: Path, filled: Store) -> None:
    old_style = Paper(
        id="hep-th/9901001",
        title="Selective scan in string theory",
        abstract="A selective scan of the landscape.",
    )
    filled.papers.upsert([old_style])
    result = _query(
        config, "selective scan", "--band", "top", "--limit", "30", env={"COLUMNS": "60"}
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 60
    ids = "".join(line.rstrip(" │┃").rsplit("│", 1)[-1].strip() for line in lines)
    assert "hep-th/9901001" in ids and "2501.30000" in ids


def test_niche_from_config_uses_its_band_and_size(config: Path, filled: Store) -> None:
    code, out = _query(config, "--niche", "ssm", "--json")
    records = json.loads(out)
    assert code == 0 and len(records) == 2 and records[0]["percentile"] == 0


def test_no_match_says_so_and_what_to_change(config: Path, filled: Store) -> None:
    code, out = _query(config, '"quantum chromodynamics"', "--since", "30d")
    out = " ".join(out.split())
    assert code == 0
    assert "No papers match this niche." in out
    assert 'no paper uses "quantum chromodynamics"' in out and "widen --since (now 30d)" in out


@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_keywords_are_shown_verbatim_never_as_markup(
    config: Path, filled: Store, extra: list[str]
) -> None:
    code, out = _query(config, '"zeta [/x]"', *extra)
    assert code == 0, out
    assert 'no paper uses "zeta [/x]"' in " ".join(out.split())


def test_table_caption_shows_unknown_keywords_verbatim(config: Path, filled: Store) -> None:
    code, out = _query(config, "selective scan, [bold]zeta")
    assert code == 0, out
    assert 'no paper uses "[bold]zeta"' in " ".join(out.split())


def test_empty_store_points_at_import(config: Path) -> None:
    code, out = _query(config, "selective scan")
    assert code == 0 and "midlist import FILE" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["x", "--band", "40-15"], "expected two percentages like 15-40, or top"),
        (["x", "--since", "last tuesday"], "expected a span like 7d"),
        ([], "give KEYWORDS"),
        (["x", "--niche", "nope"], "no niche named 'nope'"),
    ],
)
def test_bad_input_gets_a_clear_error(
    config: Path, filled: Store, args: list[str], message: str
) -> None:
    code, out = _query(config, *args)
    assert code != 0 and message in out


def test_since_keeps_only_recent_papers(config: Path, filled: Store) -> None:
    code, out = _query(
        config,
        "selective scan",
        "--since",
        "2025-01-08",
        "--json",
        "--band",
        "top",
        "--limit",
        "50",
    )
    records = json.loads(out)
    assert code == 0 and records
    assert all(r["published"] >= "2025-01-08" for r in records)
    assert len(records) < 12  # some state space papers are older


def test_new_papers_reach_the_persisted_index(config: Path, filled: Store) -> None:
    settings = parse_settings(
        {"storage": {"url": filled.url, "index_dir": str(config.parent / "index")}}
    )
    profile = NicheProfile("n", ("tokamak plasma",), band=None)
    assert rank_niche(settings, filled, profile)[0].picks == ()
    fresh = Paper(
        id="2502.00001",
        title="Tokamak plasma control",
        abstract="We steer tokamak plasma with learning.",
    )
    filled.papers.upsert([fresh])
    ranking, papers = rank_niche(settings, filled, profile, limit=3)
    assert [p.paper_id for p in ranking.picks] == ["2502.00001"] and papers[
        "2502.00001"
    ].title == fresh.title


def test_a_paper_committed_behind_the_watermark_still_reaches_the_index(
    config: Path, filled: Store
) -> None:
    """A long import commits rows stamped before the index's watermark: they must not be lost."""
    from sqlalchemy import update

    from bot.store.schema import papers

    settings = parse_settings(
        {"storage": {"url": filled.url, "index_dir": str(config.parent / "index")}}
    )
    profile = NicheProfile("n", ("tokamak plasma",), band=None)
    assert rank_niche(settings, filled, profile)[0].picks == ()
    late = Paper(id="2502.00001", title="Tokamak plasma", abstract="We steer tokamak plasma.")
    filled.papers.upsert([late])
    with filled.begin() as conn:
        conn.execute(
            update(papers).where(papers.c.id == late.id).values(first_seen=datetime(2001, 1, 1))
        )
    ranking, _ = rank_niche(settings, filled, profile, limit=3)
    assert [p.paper_id for p in ranking.picks] == [late.id]


def _segment(index: Path) -> Path:
    [segment] = index.glob("seg-*")
    return segment


def _cut(index: Path, name: str) -> None:
    path = _segment(index) / name
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _meta(index: Path, **changes: object) -> None:
    meta = json.loads((index / "meta.json").read_text(encoding="utf-8"))
    (index / "meta.json").write_text(json.dumps({**meta, **changes}), encoding="utf-8")


def _extra(index: Path) -> dict[str, str]:
    return dict(json.loads((index / "meta.json").read_text(encoding="utf-8"))["extra"])


@pytest.mark.parametrize(
    "damage",
    [
        lambda index: (_segment(index) / "counts.npy").write_bytes(b""),  # lost on power failure
        lambda index: (_segment(index) / "post_rows.npy").write_bytes(b""),
        lambda index: _cut(index, "indices.npy"),
        lambda index: _cut(index, "ids.npy"),
        lambda index: (index / "meta.json").write_text("[]", encoding="utf-8"),
        lambda index: _meta(index, dead=[]),  # manifest and segments disagree
        lambda index: _meta(index, segments=["seg-gone"]),
        lambda index: _meta(index, extra={**_extra(index), "watermark": "yesterday"}),
    ],
    ids=[
        "empty-counts",
        "empty-postings",
        "truncated-indices",
        "truncated-ids",
        "meta-not-object",
        "dead",
        "missing-segment",
        "watermark",
    ],
)
def test_a_damaged_index_is_rebuilt_not_a_crash(config: Path, filled: Store, damage) -> None:  # type: ignore[no-untyped-def]
    settings = parse_settings(
        {"storage": {"url": filled.url, "index_dir": str(config.parent / "index")}}
    )
    profile = NicheProfile("n", ("selective scan",), band=None)
    first, _ = rank_niche(settings, filled, profile, limit=3)
    damage(config.parent / "index")
    filled.papers.upsert([Paper(id="2502.00001", title="Tokamak plasma", abstract="A tokamak.")])
    again, _ = rank_niche(settings, filled, profile, limit=3)
    assert [p.paper_id for p in again.picks] == [p.paper_id for p in first.picks]
    assert len(first.picks) == 3
    assert len(TfidfIndex.load(config.parent / "index")) == len(corpus()) + 1


def test_rank_niche_excludes_delivered_and_counts_mentions(config: Path, filled: Store) -> None:
    settings = parse_settings(
        {"storage": {"url": filled.url, "index_dir": str(config.parent / "index")}}
    )
    profile = NicheProfile("n", ("grasping", "tactile sensing"))
    first, _ = rank_niche(settings, filled, profile, limit=3)
    gone = {p.paper_id for p in first.picks}
    again, papers = rank_niche(settings, filled, profile, limit=3, exclude_ids=gone)
    assert len(again.picks) == 3 and not gone & set(papers)
    target = again.picks[-1].paper_id
    filled.papers.add_mentions(
        [
            Mention(paper_id=target, source="reddit", external_id=f"c{i}", who=f"u{i}")
            for i in range(2)
        ]
    )
    ranked, _ = rank_niche(
        settings, filled, NicheProfile("n", profile.keywords, band=None), limit=30
    )
    assert {p.paper_id: p.mentions for p in ranked.picks}[target] == 2


def test_profile_for_maps_queue_states_to_feedback(filled: Store) -> None:
    niche = Niche(name="ssm", keywords=["selective scan"], band="top", seeds=["2501.30001"])
    a, b, c = (p.id for p in topic_papers("ssm", 3))
    for pid, state in ((a, "saved"), (b, "read"), (c, "skipped")):
        filled.queue.mark("ssm", pid, state)
    profile = profile_for(niche, filled)
    assert profile.band is None and profile.seeds == ("2501.30001",)
    assert profile.saved == tuple(sorted((a, b))) and profile.skipped == (c,)


def test_keyword_parsing() -> None:
    assert parse_keywords("selective scan, linear recurrence") == [
        "selective scan",
        "linear recurrence",
    ]
    assert parse_keywords('"selective scan" mamba') == ["selective scan", "mamba"]
    assert parse_since("7d", datetime(2025, 1, 8, tzinfo=UTC)) == datetime(2025, 1, 1, tzinfo=UTC)


def _atom_entry(pid: str, title: str, summary: str) -> str:
    return f"""  <entry>
    <id>http://arxiv.org/abs/{pid}v1</id>
    <title>{title}</title>
    <updated>2025-03-0{pid[-1]}T10:00:00Z</updated>
    <published>2025-03-0{pid[-1]}T10:00:00Z</published>
    <link href="https://arxiv.org/abs/{pid}v1" rel="alternate" type="text/html"/>
    <summary>{summary}</summary>
    <category term="cs.LG" scheme="http://arxiv.org/schemas/atom"/>
    <arxiv:primary_category term="cs.LG"/>
    <author><name>Ada Quill</name></author>
  </entry>
"""


LIVE_FEED = (
    """<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">
  <id>https://arxiv.org/api/midlistlive</id>
  <title>arXiv Query</title>
  <updated>2025-03-09T00:00:00Z</updated>
  <opensearch:itemsPerPage>3</opensearch:itemsPerPage>
  <opensearch:totalResults>3</opensearch:totalResults>
  <opensearch:startIndex>0</opensearch:startIndex>
"""
    + _atom_entry("2503.00001", "Selective scan kernels", "A selective scan for long sequences.")
    + _atom_entry(
        "2503.00002", "Linear recurrence at scale", "A linear recurrence with a selective scan."
    )
    + _atom_entry("2503.00003", "Robot grasping", "A robot learns grasping.")
    + "</feed>\n"
)


def test_live_asks_the_configured_arxiv_endpoint_and_ranks_in_memory(
    tmp_path: Path, config_file: ConfigFile, httpserver
) -> None:  # type: ignore[no-untyped-def]
    httpserver.expect_request("/api/query").respond_with_data(
        LIVE_FEED, content_type="application/atom+xml"
    )
    arxiv = {
        "api_url": httpserver.url_for("/api/query"),
        "delay_seconds": 0,
        "timeout_seconds": 5,
        "retries": 0,
    }
    config = config_file(niches=None, channels=None, sources={"arxiv": arxiv})
    code, out = _query(
        config, "selective scan, linear recurrence", "--live", "--json", "--band", "top"
    )
    assert code == 0, out
    records = json.loads(out)
    assert [r["id"] for r in records] == ["2503.00002", "2503.00001"]
    assert "all:" in httpserver.log[0][0].args["search_query"]
    assert not (tmp_path / "index").exists()  # nothing stored, nothing indexed
