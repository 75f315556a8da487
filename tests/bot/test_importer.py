"""`import_snapshot` and `midlist import` against real files and a real SQLite store."""

from __future__ import annotations

import gzip
import io
import itertools
import json
import shutil
import tarfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.importer import ImportFileError, import_snapshot
from bot.store import Store
from tests.conftest import ConfigFile, run_cli

pytestmark = pytest.mark.backends  # every test that takes `store` runs on both

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "snapshot"


def _line(n: int) -> str:
    return json.dumps(
        {
            "id": f"2503.{n:05d}",
            "title": f"Paper {n}",
            "authors": "A. B",
            "update_date": "2025-03-01",
        }
    )


def test_import_reports_bad_lines_with_their_numbers_and_keeps_the_good(store: Store) -> None:
    report = import_snapshot(FIXTURES / "mixed.jsonl", store)
    assert (report.new, report.updated, report.unchanged) == (2, 0, 0)
    assert [n for n, _ in report.bad] == [2, 4, 5, 6, 7, 8]  # line 3 is blank, not bad
    assert report.bad[1] == (4, "missing 'id'")
    assert report.bad[2] == (5, "'id' is not an arXiv id: 'not-an-id'")
    assert report.bad_lines == 6
    assert report.summary() == "2 papers: 2 new, 0 updated, 0 unchanged, 6 bad lines"
    assert sorted(store.papers.get_many(["2501.00001", "2501.00005"])) == [
        "2501.00001",
        "2501.00005",
    ]
    assert store.papers.get("2501.00005").authors == ("Eve Fox", "Gil Ho")


def test_import_gzip_is_told_by_its_bytes_not_its_name(store: Store, tmp_path: Path) -> None:
    renamed = tmp_path / "snapshot.json"
    shutil.copy(FIXTURES / "short.jsonl.gz", renamed)
    report = import_snapshot(renamed, store)
    assert report.summary() == "3 papers: 3 new, 0 updated, 0 unchanged, 0 bad lines"
    paper = store.papers.get("2502.10002")
    assert paper.authors == ("Dana Ruiz", "Eli Stone")
    assert paper.published == datetime(2025, 2, 15, tzinfo=UTC)
    assert store.papers.get("2502.10001").title == "Compressed and plain read alike"
    assert store.papers.get("2502.10003").version == 2


def test_import_gzip_and_plain_store_the_same_rows(tmp_path: Path) -> None:
    plain = tmp_path / "short.jsonl"
    plain.write_bytes(gzip.decompress((FIXTURES / "short.jsonl.gz").read_bytes()))
    stores = [Store(f"sqlite:///{tmp_path / name}.db") for name in ("gz", "plain")]
    try:
        import_snapshot(FIXTURES / "short.jsonl.gz", stores[0])
        import_snapshot(plain, stores[1])
        assert list(stores[0].papers.iter_all()) == list(stores[1].papers.iter_all())
        assert stores[0].papers.count() == 3
    finally:
        for s in stores:
            s.close()


def test_import_twice_is_idempotent(store: Store) -> None:
    first = import_snapshot(FIXTURES / "full.jsonl", store)
    before = list(store.papers.iter_all())
    second = import_snapshot(FIXTURES / "full.jsonl", store)
    assert first.summary() == "3 papers: 3 new, 0 updated, 0 unchanged, 0 bad lines"
    assert second.summary() == "3 papers: 0 new, 0 updated, 3 unchanged, 0 bad lines"
    assert list(store.papers.iter_all()) == before
    assert store.papers.get("hep-th/9901001").categories == ("hep-th", "hep-lat")
    assert store.papers.get("0704.9999") is not None  # withdrawn, still imported


def test_import_a_newer_version_updates_and_an_older_one_does_not(store: Store) -> None:
    import_snapshot(FIXTURES / "full.jsonl", store)
    newer = import_snapshot(FIXTURES / "v3.jsonl", store)
    assert (newer.new, newer.updated, newer.unchanged) == (0, 1, 0)
    paper = store.papers.get("2403.01234")
    assert paper.version == 3
    assert paper.title == "Sparse mixtures of tiny experts, revisited"
    assert paper.published == datetime(2024, 3, 4, 17, 2, 11, tzinfo=UTC)
    assert paper.updated == datetime(2024, 9, 3, 8, 0, tzinfo=UTC)

    older = import_snapshot(FIXTURES / "v1.jsonl", store)
    assert (older.new, older.updated, older.unchanged) == (0, 0, 1)
    assert store.papers.get("2403.01234") == paper


def test_import_reads_kaggles_one_file_zip_in_place(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "archive.zip"
    _zip(path)
    report = import_snapshot(path, store)
    assert report.summary() == "3 papers: 3 new, 0 updated, 0 unchanged, 0 bad lines"
    assert store.papers.get("hep-th/9901001").title == "Strings on a lattice"


def test_import_commits_in_batches_and_reports_progress(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    path.write_text("".join(_line(n) + "\n" for n in range(1, 26)), encoding="utf-8")
    seen: list[tuple[int, int]] = []
    report = import_snapshot(path, store, progress=lambda d, t: seen.append((d, t)), batch_size=10)
    assert report.new == 25
    size = path.stat().st_size
    assert len(seen) == 3  # after batch 1, after batch 2, and at the end
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert seen[-1] == (size, size)
    assert {t for _, t in seen} == {size}


def test_import_truncated_gzip_keeps_the_batches_before_the_damage(
    store: Store, tmp_path: Path
) -> None:
    body = gzip.compress("".join(_line(n) + "\n" for n in range(1, 6001)).encode(), mtime=0)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(body[: len(body) // 2])
    with pytest.raises(ImportFileError) as info:
        import_snapshot(path, store, batch_size=1000)
    stored = store.papers.count()
    assert stored >= 1000
    message = str(info.value)
    assert message.startswith(f"{path}: unreadable after line ")
    assert f"the {stored:,} papers before it are stored" in message


def _tarball(path: Path) -> None:
    data = (FIXTURES / "full.jsonl").read_bytes()
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("arxiv-metadata-oai-snapshot.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def _zip(path: Path, members: int = 1) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(FIXTURES / "full.jsonl", "arxiv-metadata-oai-snapshot.json")
        if members > 1:
            zf.writestr("README.txt", "two files")


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (None, "{path}: no such file"),
        (lambda p: p.mkdir(), "{path}: is a directory; give the snapshot file inside it"),
        (
            lambda p: p.write_text("<!DOCTYPE html>\n<html><body>Sign in</body></html>\n"),
            "{path}: an HTML or XML page (a failed download?). Expected the Kaggle",
        ),
        (
            lambda p: p.write_text('[{"id": "2501.00001", "title": "T"}]'),
            "{path}: one JSON array; midlist reads JSON lines, one object per line.",
        ),
        (_tarball, "{path}: binary (a tar archive?); unpack it and import the .json file inside."),
        (
            lambda p: _zip(p, members=2),
            "{path}: a zip archive holding 2 files (arxiv-metadata-oai-snapshot.json, README.txt);",
        ),
        (lambda p: p.write_bytes(b"PK\x03\x04" + b"\0" * 40), "{path}: not a readable zip archive"),
        (lambda p: p.write_text("id,title\n2501.00001,T\n"), "{path}: not JSON lines."),
        (
            lambda p: p.write_bytes(b"\x1f\x8b\x08\x00garbage"),
            "{path}: not a readable compressed file",
        ),
    ],
)
def test_import_refuses_a_file_that_is_not_a_snapshot(
    store: Store,
    tmp_path: Path,
    make,
    expected: str,  # type: ignore[no-untyped-def]
) -> None:
    path = tmp_path / "arxiv-metadata-oai-snapshot.json"
    if make:
        make(path)
    with pytest.raises(ImportFileError) as info:
        import_snapshot(path, store)
    assert str(info.value).startswith(expected.format(path=path))
    assert store.papers.count() == 0


# ---- the command ------------------------------------------------------------------------------


@pytest.fixture
def config(config_file: ConfigFile) -> Path:
    return config_file()


def test_cli_import_prints_the_summary_and_the_bad_lines(config: Path) -> None:
    result = run_cli(config, "import", str(FIXTURES / "mixed.jsonl"))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "2 papers: 2 new, 0 updated, 0 unchanged, 6 bad lines",
        "  line 2: invalid JSON: Unterminated string starting at: line 1 column 49 (char 48)",
        "  line 4: missing 'id'",
        "  line 5: 'id' is not an arXiv id: 'not-an-id'",
        "  line 6: 2501.00003: missing 'title'",
        "  line 7: expected a JSON object, got list",
        "  line 8: 2501.00004: 'update_date' is not a date like 2024-05-01: 'yesterday'",
    ]


def test_cli_import_again_reports_everything_unchanged(config: Path) -> None:
    args = ["import", str(FIXTURES / "short.jsonl.gz")]
    run_cli(config, *args)
    result = run_cli(config, *args)
    assert result.exit_code == 0
    assert result.stdout == "3 papers: 0 new, 0 updated, 3 unchanged, 0 bad lines\n"


def test_cli_import_lists_only_the_first_bad_lines_unless_verbose(
    config: Path, tmp_path: Path
) -> None:
    path = tmp_path / "junk.jsonl"
    path.write_text(_line(1) + "\n" + '{"id": "x"}\n' * 12, encoding="utf-8")
    quiet = run_cli(config, "import", str(path))
    assert quiet.stdout.splitlines()[0] == "1 paper: 1 new, 0 updated, 0 unchanged, 12 bad lines"
    assert len(quiet.stdout.splitlines()) == 1 + 10 + 1
    assert (
        quiet.stdout.splitlines()[-1] == "  ... and 2 more bad lines (midlist -v import shows all)"
    )
    loud = run_cli(config, "-v", "import", str(path))
    assert loud.stdout.splitlines()[1:] == [
        f"  line {n}: 'id' is not an arXiv id: 'x'" for n in range(2, 14)
    ]


def test_cli_import_a_bad_file_is_one_error_line(config: Path, tmp_path: Path) -> None:
    page = tmp_path / "snapshot.json"
    page.write_text("<html><body>Too many requests</body></html>\n", encoding="utf-8")
    result = run_cli(config, "import", str(page))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: {page}: an HTML or XML page (a failed download?).")
    assert "Traceback" not in result.stderr


# ---- the real data ----------------------------------------------------------------------------


@pytest.mark.shared
def test_import_the_real_kaggle_sample(store: Store, shared_data: Path) -> None:
    report = import_snapshot(shared_data / "arxiv-oai-snapshot-sample.jsonl", store)
    assert report.summary() == "200 papers: 200 new, 0 updated, 0 unchanged, 0 bad lines"
    withdrawn = store.papers.get("0704.0156")
    assert (
        withdrawn is not None
        and withdrawn.abstract == "This paper has been withdrawn by the authors."
    )
    paper = store.papers.get("0704.0001")
    assert (
        paper.title
        == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert paper.authors == ("C. Bal\u00e1zs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan")
    assert (paper.version, paper.doi, paper.categories) == (
        2,
        "10.1103/PhysRevD.76.013009",
        ("hep-ph",),
    )
    assert paper.published == datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)
    assert paper.updated == datetime(2007, 7, 24, 20, 10, 27, tzinfo=UTC)
    again = import_snapshot(shared_data / "arxiv-oai-snapshot-sample.jsonl", store)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 200)


@pytest.mark.shared
def test_import_a_prefix_of_the_real_cs_corpus(
    store: Store, shared_data: Path, tmp_path: Path
) -> None:
    prefix = tmp_path / "prefix.jsonl"
    with (
        gzip.open(shared_data / "arxiv-cs-2025-2026.jsonl.gz", "rb") as src,
        prefix.open("wb") as dst,
    ):
        dst.writelines(itertools.islice(src, 5000))
    report = import_snapshot(prefix, store)
    assert report.summary() == "5,000 papers: 5,000 new, 0 updated, 0 unchanged, 0 bad lines"
    paper = store.papers.get("1812.06145")
    assert paper.authors == ("Mahdi Abavisani", "Hamid Reza Vaezi Joze", "Vishal M. Patel")
    assert paper.categories[0] == "cs.CV"
    assert paper.published == datetime(2025, 10, 13, tzinfo=UTC)
