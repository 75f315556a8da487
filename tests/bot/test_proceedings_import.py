"""`midlist import` of proceedings lists: both layouts, told from the content, idempotent."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from bot.importer import ImportFileError, import_snapshot
from bot.store import Store
from tests.conftest import ConfigFile, run_cli

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "proceedings"
NEURIPS_1988 = (
    "https://proceedings.neurips.cc/paper_files/paper/1988/hash/"
    "0123456789abcdef0123456789abcdef-Abstract.html"
)


@pytest.mark.backends
def test_json_lines_import_keeps_venue_year_status_and_citations(store: Store) -> None:
    report = import_snapshot(FIXTURES / "neurips-lines.jsonl", store)
    assert report.summary() == "5 papers: 5 new, 0 updated, 0 unchanged, 3 bad lines"
    assert [n for n, _ in report.bad] == [3, 4, 8]
    assert report.bad[1] == (4, "missing 'title'")
    paper = store.papers.get(NEURIPS_1988)
    assert paper is not None
    assert paper.title == "Learning Sequential Structure in Simple Recurrent Networks"
    assert paper.abstract == (
        "We explore a network architecture introduced by Elman for predicting successive "
        "elements of a sequence."
    )
    listing = store.citations.listings_of([NEURIPS_1988])[NEURIPS_1988]
    assert (listing.venue, listing.year, listing.status) == ("neurips", 1988, "Oral")
    counts = store.citations.counts_of([NEURIPS_1988, "1701.07875"])
    assert counts[NEURIPS_1988]["gs"].count == 412
    assert counts[NEURIPS_1988]["gs"].fetched_at is not None
    assert "1701.07875" not in counts  # -1 in the list: unknown, not zero
    assert (
        store.papers.get(
            "neurips:1988:a-back-propagation-algorithm-with-optimal-use-of-hidden-units"
        ).abstract
        == ""
    )
    assert store.papers.get("openreview:B1DmUzWAW") is not None
    assert store.papers.get("doi:10.18653/v1/2021.acl-long.24") is not None
    assert store.citations.listed_ids(["neurips"], (1987, 1988)) == {
        NEURIPS_1988,
        "neurips:1988:a-back-propagation-algorithm-with-optimal-use-of-hidden-units",
    }


@pytest.mark.backends
def test_reimport_is_idempotent_and_a_new_count_is_an_update(store: Store, tmp_path: Path) -> None:
    import_snapshot(FIXTURES / "neurips-lines.jsonl", store)
    again = import_snapshot(FIXTURES / "neurips-lines.jsonl", store)
    assert again.summary() == "5 papers: 0 new, 0 updated, 5 unchanged, 3 bad lines"
    dated = store.citations.counts_of([NEURIPS_1988])[NEURIPS_1988]["gs"].fetched_at

    lines = (FIXTURES / "neurips-lines.jsonl").read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    first["gs_citation"] = 500
    (tmp_path / "newer.jsonl").write_text(json.dumps(first) + "\n", encoding="utf-8")
    newer = import_snapshot(tmp_path / "newer.jsonl", store)
    assert newer.summary() == "1 paper: 0 new, 1 updated, 0 unchanged, 0 bad lines"
    count = store.citations.counts_of([NEURIPS_1988])[NEURIPS_1988]["gs"]
    assert count.count == 500 and count.fetched_at >= dated


def test_a_gzipped_json_array_takes_venue_and_year_from_its_name(
    store: Store, tmp_path: Path
) -> None:
    target = tmp_path / "nips1990.json.gz"
    with gzip.open(target, "wb") as out:
        out.write((FIXTURES / "nips1990.json").read_bytes())
    report = import_snapshot(target, store)
    assert report.summary() == "3 papers: 3 new, 0 updated, 0 unchanged, 1 bad line"
    assert (report.unit, report.bad) == ("record", [(3, "expected a JSON object, got str")])
    brain = store.papers.get("neurips:1990:optimal-brain-damage")
    assert brain is not None and brain.authors == ("Yann LeCun", "John S. Denker", "Sara A. Solla")
    assert len(store.citations.listed_ids(["neurips"], (1990, 1990))) == 3
    assert store.citations.popularity()["neurips:1990:optimal-brain-damage"] == 4500
    digits = store.papers.get(
        "https://proceedings.neurips.cc/paper_files/paper/1989/hash/"
        "53c3bce66e43be4f209556518c2fcb54-Abstract.html"
    )
    assert digits is not None
    assert digits.abstract.endswith(
        "handwritten digit recognition. The network is trained with five layers."
    )


def test_an_array_of_arxiv_records_is_still_refused(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "snapshot.json"
    path.write_text('[{"id": "2501.00001", "title": "T", "authors": "A"}]', encoding="utf-8")
    with pytest.raises(ImportFileError, match="one JSON array; midlist reads JSON lines"):
        import_snapshot(path, store)
    assert store.papers.count() == 0


def test_cli_import_reports_bad_records_of_an_array(
    config_file: ConfigFile, tmp_path: Path
) -> None:
    shutil.copy(FIXTURES / "nips1990.json", tmp_path / "nips1990.json")
    result = run_cli(config_file(), "import", str(tmp_path / "nips1990.json"))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "3 papers: 3 new, 0 updated, 0 unchanged, 1 bad line",
        "  record 3: expected a JSON object, got str",
    ]
