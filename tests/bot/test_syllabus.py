"""`midlist syllabus` and `query --venue/--years/--order` over imported proceedings."""

from __future__ import annotations

import json
import random
import re
import sqlite3
import zipfile
from pathlib import Path

import pytest

from bot.importer import import_snapshot
from bot.store import Store
from tests.conftest import CliRun, ConfigFile, run_cli

SYLLABLES = ["ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "vu", "ze", "bo", "di"]


def listing_lines(venue: str, years: range, per_year: int, seed: int) -> list[str]:
    """Proceedings records about neural networks, each with words of its own (no near-duplicates)."""
    rng = random.Random(seed)

    def word() -> str:
        return "".join(rng.choice(SYLLABLES) for _ in range(4))

    out = []
    for year in years:
        for i in range(per_year):
            out.append(
                json.dumps(
                    {
                        "venue": venue,
                        "year": year,
                        "title": f"Neural network {word()} {word()}",
                        "abstract": f"A neural network for {word()} {word()} {word()} {word()}.",
                        "status": "Poster",
                        "gs_citation": rng.randrange(0, 500),
                        "author": f"Author {i}; Other {year}",
                    }
                )
            )
    return out


@pytest.fixture
def config(config_file: ConfigFile, tmp_path: Path) -> Path:
    data = tmp_path / "listings.jsonl"
    lines = listing_lines("nips", range(1987, 1998), 12, 1) + listing_lines(
        "icml", range(1990, 1996), 10, 2
    )
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    store = Store(f"sqlite:///{tmp_path / 'midlist.db'}")
    import_snapshot(data, store)
    store.close()
    niche = {
        "name": "nets",
        "keywords": ["neural network"],
        "venues": ["NeurIPS"],
        "years": [1987, 1997],
        "order": "citations",
        "band": [15, 40],
    }
    return config_file(niches=[niche])


def run(config: Path, *args: str) -> CliRun:
    return run_cli(config, *args)


def test_syllabus_json_is_the_citation_band_of_the_venue_and_years(config: Path) -> None:
    result = run(config, "syllabus", "nets", "--size", "20", "--format", "json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert len(records) == 20
    assert {r["venue"] for r in records} == {"neurips"}
    assert [r["year"] for r in records] == sorted(r["year"] for r in records)  # oldest first
    assert all(15 <= r["percentile"] < 40 for r in records)
    assert all(r["reasons"][-1].endswith("NeurIPS 1987-1997 papers on this niche") for r in records)
    whole = json.loads(
        run(config, "query", "--niche", "nets", "--band", "top", "--limit", "200", "--json").stdout
    )
    assert len(whole) == whole[0]["pool_size"] > 80  # the NeurIPS papers only, not ICML's
    ranked = sorted(whole, key=lambda r: r["percentile"])
    band = [r for r in ranked if 15 <= r["percentile"] < 40]
    assert {r["id"] for r in records} <= {r["id"] for r in band}
    # the band by citations: below the most cited 15%, above the least cited 60%
    assert min(r["citations"] for r in ranked if r["percentile"] < 15) >= max(
        r["citations"] for r in records
    )
    assert max(r["citations"] for r in ranked if r["percentile"] >= 40) <= min(
        r["citations"] for r in records
    )


def test_syllabus_ordered_by_citations_and_as_markdown(config: Path) -> None:
    result = run(config, "syllabus", "nets", "--size", "5", "--order", "citations")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("## nets\n\n- Neural network")  # no page URL: plain title
    as_json = json.loads(
        run(
            config, "syllabus", "nets", "--size", "5", "--order", "citations", "--format", "json"
        ).stdout
    )
    counts = [r["citations"] for r in as_json]
    assert counts == sorted(counts, reverse=True)


def test_syllabus_anki_deck_keeps_stable_ids_and_queue_adds_papers(
    config: Path, tmp_path: Path
) -> None:
    deck = tmp_path / "nets.apkg"
    first = run(
        config, "syllabus", "nets", "--size", "10", "--format", "anki", "-o", str(deck), "--queue"
    )
    assert first.exit_code == 0, first.output
    assert first.stdout == f"Wrote 10 cards to {deck}.\n"
    assert "Queued 10 new papers in nets (0 were there)." in first.stderr
    guids = _guids(deck, tmp_path / "one")
    again = run(config, "syllabus", "nets", "--size", "10", "--format", "anki", "-o", str(deck))
    assert again.exit_code == 0
    assert _guids(deck, tmp_path / "two") == guids
    listed = run(config, "queue", "list", "--niche", "nets")
    assert "10 queued" in listed.stdout


def _guids(deck: Path, into: Path) -> set[str]:
    with zipfile.ZipFile(deck) as z:
        z.extract("collection.anki2", into)
    with sqlite3.connect(into / "collection.anki2") as db:
        return {row[0] for row in db.execute("SELECT guid FROM notes")}


def test_too_few_papers_in_the_band_says_how_many_and_what_to_widen(config: Path) -> None:
    result = run(config, "syllabus", "nets")
    assert result.exit_code == 1
    message = " ".join(result.stderr.split())
    assert message.startswith("Error: niche 'nets': the 15-40% band of its ")
    assert "-paper pool (NeurIPS 1987-1997) holds " in message
    assert "fewer than --size 100: widen the band (--band " in message
    assert "widen the niche's venues/years (now NeurIPS 1987-1997)" in message


def test_query_venue_years_and_order_and_json_citations(config: Path) -> None:
    result = run(
        config,
        "query",
        "neural network",
        "--venue",
        "icml",
        "--years",
        "1990-1991",
        "--order",
        "citations",
        "--band",
        "top",
        "--limit",
        "50",
        "--json",
    )
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert 0 < len(records) <= 20
    assert all(r["published"][:4] in ("1990", "1991") for r in records)
    counts = [r["citations"] for r in sorted(records, key=lambda r: r["percentile"])]
    assert counts == sorted(counts, reverse=True)
    assert records[0]["reasons"][-1].endswith("ICML 1990-1991 papers on this niche")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--venue", "cvpr"], "no papers listed at cvpr (venues in the store: icml, neurips)"),
        (["--years", "1997-1987"], "expected two years like [1987, 1997] (first <= last)"),
        (
            ["--venue", "icml", "--years", "1970-1975"],
            "no stored papers are from ICML 1970-1975; widen --years or --venue",
        ),
    ],
)
def test_query_scope_errors_are_one_clear_line(config: Path, args: list[str], error: str) -> None:
    result = run(config, "query", "neural network", *args)
    assert result.exit_code != 0
    assert error in " ".join(result.output.split())


def test_syllabus_bibtex_gives_a_proceedings_paper_its_year_but_no_month(config: Path) -> None:
    result = run(config, "syllabus", "nets", "--size", "3", "--format", "bibtex")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("@misc{") == 3
    assert len(re.findall(r"^  year = \{19[89]\d\}", result.stdout, re.M)) == 3
    assert "month" not in result.stdout


def test_check_shows_the_niche_order_and_scope(config: Path) -> None:
    result = run(config, "check")
    assert result.exit_code == 0, result.output
    assert "by citations, NeurIPS 1987-1997" in " ".join(result.stdout.split())
