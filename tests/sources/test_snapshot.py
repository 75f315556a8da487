"""Kaggle snapshot lines -> Paper: field mapping, dates, authors, and the reasons a line is bad."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sources.errors import ParseError
from sources.snapshot import parse_line, split_authors

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "snapshot"


def _lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text(encoding="utf-8").splitlines()


def test_parse_line_maps_every_field_of_the_full_format() -> None:
    paper = parse_line(_lines("full.jsonl")[0])
    assert paper.id == "2403.01234"
    assert paper.title == "Sparse mixtures of tiny experts"
    assert paper.abstract == "We route tokens to very small experts."
    assert paper.authors == ("Ada Quill", "Bo Renn", "Chidi Okoro")
    assert paper.categories == ("cs.LG", "cs.AI", "stat.ML")
    assert paper.url == "https://arxiv.org/abs/2403.01234"
    assert paper.version == 2
    assert paper.published == datetime(2024, 3, 4, 17, 2, 11, tzinfo=UTC)
    assert paper.updated == datetime(2024, 4, 12, 9, 30, tzinfo=UTC)
    assert paper.doi == "10.1000/XYZ.2024.17"
    assert paper.comment == "12 pages, 3 figures"
    assert paper.source == "import"


def test_parse_line_old_style_id_keeps_its_archive_and_prefers_authors_parsed() -> None:
    paper = parse_line(_lines("full.jsonl")[1])
    assert paper.id == "hep-th/9901001"
    assert paper.url == "https://arxiv.org/abs/hep-th/9901001"
    assert paper.authors == ("J. Sm\u00f6th", "K. Lee Jr")  # not the LaTeX in `authors`
    assert paper.version == 1
    assert paper.published == paper.updated == datetime(1999, 1, 1, 10, 0, tzinfo=UTC)
    assert paper.comment is None


def test_parse_line_accepts_bytes_and_a_withdrawn_paper() -> None:
    paper = parse_line(_lines("full.jsonl")[2].encode("utf-8"))
    assert (paper.id, paper.version) == ("0704.9999", 2)
    assert paper.abstract == "This paper has been withdrawn by the author."


def test_parse_line_short_format_dates_come_from_update_date() -> None:
    line = json.dumps(
        {"id": "2501.00007", "title": "T", "authors": "A. B", "update_date": "2025-01-09"}
    )
    paper = parse_line(line)
    assert paper.version is None
    assert paper.published == paper.updated == datetime(2025, 1, 9, tzinfo=UTC)
    assert paper.categories == ()
    assert paper.doi is None


def test_parse_line_version_in_the_id_is_used_when_versions_are_absent() -> None:
    paper = parse_line(json.dumps({"id": "2502.10003v2", "title": "T"}))
    assert (paper.id, paper.version) == ("2502.10003", 2)


def test_parse_line_subject_class_is_dropped_from_old_style_ids() -> None:
    assert parse_line(json.dumps({"id": "math.GT/0309136", "title": "T"})).id == "math/0309136"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ana Lima, Ben Ode, and Cy Pratt", ("Ana Lima", "Ben Ode", "Cy Pratt")),
        ("Ana Lima and Ben Ode", ("Ana Lima", "Ben Ode")),
        ("Dana Ruiz (1), Eli Stone (2) ((1) Some Univ, (2) Other Lab)", ("Dana Ruiz", "Eli Stone")),
        ("Fernando Anand,\n  Sandra Brandt", ("Fernando Anand", "Sandra Brandt")),
        ("", ()),
    ],
)
def test_split_authors(text: str, expected: tuple[str, ...]) -> None:
    assert split_authors(text) == expected


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"id": "2501.00002", "title": "Trunc', "invalid JSON: Unterminated string"),
        ('["a"]', "expected a JSON object, got list"),
        ('{"title": "No id"}', "missing 'id'"),
        ('{"id": 2501.00001, "title": "Number id"}', "missing 'id'"),
        ('{"id": "not-an-id", "title": "T"}', "'id' is not an arXiv id: 'not-an-id'"),
        ('{"id": "2501.00003", "title": "  "}', "2501.00003: missing 'title'"),
        (
            '{"id": "2501.00004", "title": "T", "update_date": "yesterday"}',
            "2501.00004: 'update_date' is not a date like 2024-05-01: 'yesterday'",
        ),
        (
            '{"id": "2501.00005", "title": "T", "versions": [{"version": "v1"}]}',
            '2501.00005: bad \'versions\' entry {"version": "v1"}',
        ),
        (b'{"id": "2501.00006", "title": "\xff"}', "invalid JSON: 'utf-8' codec can't decode"),
        (
            '{"id": "2501.00007", "title": "T", "versions": [{"version": "v1", "created": 5}]}',
            '2501.00007: bad \'versions\' entry {"version": "v1", "created": 5}',
        ),
        ("[" * 100_000, "invalid JSON: nested too deeply"),
    ],
)
def test_parse_line_bad_lines_say_why(line: str | bytes, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_line(line)
    assert info.value.reason.startswith(reason)
