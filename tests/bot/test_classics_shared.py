"""The real classics file: 50,000 conference papers with Google Scholar counts, imported once,
and a 100-paper syllabus over NeurIPS 1987-1997."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bot.cli import cli
from bot.importer import import_snapshot
from bot.store import Store
from tests.conftest import SHARED_DATA

CLASSICS = SHARED_DATA / "classics" / "ml-venues-with-citations.jsonl.gz"

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, object]]:
    if not CLASSICS.exists():
        pytest.skip("the classics file is not in ../shared/data")
    root = tmp_path_factory.mktemp("classics")
    url = f"sqlite:///{root / 'midlist.db'}"
    store = Store(url)
    report = import_snapshot(CLASSICS, store)
    store.close()
    config = root / "config.yaml"
    niche = {
        "name": "connectionism",
        "keywords": ["neural network"],
        "venues": ["neurips"],
        "years": [1987, 1997],
        "order": "citations",
        "band": [15, 60],
    }
    config.write_text(
        yaml.safe_dump(
            {"storage": {"url": url, "index_dir": str(root / "index")}, "niches": [niche]}
        ),
        encoding="utf-8",
    )
    yield config, report


def test_the_classics_file_imports_with_venues_and_counts(imported) -> None:  # type: ignore[no-untyped-def]
    config, report = imported
    assert report.papers > 50_000 and report.bad_lines < 10
    store = Store(yaml.safe_load(config.read_text())["storage"]["url"])
    try:
        neurips = store.citations.listed_ids(["neurips"], (1987, 1997))
        assert 1400 < len(neurips) < 1500
        assert len(store.citations.popularity(neurips)) > 0.95 * len(neurips)
        papers = store.papers.get_many(sorted(neurips))
        assert not any("(cid:" in p.abstract for p in papers.values())
        assert not any(p.abstract == "Abstract Unavailable" for p in papers.values())
    finally:
        store.close()


def test_a_100_paper_neurips_1987_1997_syllabus(imported) -> None:  # type: ignore[no-untyped-def]
    config, _ = imported
    result = CliRunner().invoke(
        cli, ["--config", str(config), "syllabus", "connectionism", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert len(records) == 100
    assert len({r["id"] for r in records}) == 100
    assert {r["venue"] for r in records} == {"neurips"}
    assert all(1987 <= r["year"] <= 1997 for r in records)
    assert [r["year"] for r in records] == sorted(r["year"] for r in records)
    assert all(15 <= r["percentile"] < 60 for r in records)
    assert all(r["citations"] is not None for r in records)
    assert records[0]["reasons"][-1].endswith("NeurIPS 1987-1997 papers on this niche")
