"""Proceedings records -> papers with venue, year, status and Google Scholar counts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sources.errors import ParseError
from sources.proceedings import (
    clean_abstract,
    parse_json_line,
    parse_record,
    venue_from_file_name,
    venue_key,
    venue_name,
)


def test_a_neurips_record_is_keyed_by_its_proceedings_page_and_keeps_its_listing() -> None:
    entry = parse_record(
        {
            "venue": "nips",
            "year": 1987,
            "title": "A 'Neural' Network that Learns to Play Backgammon",
            "abstract": "We describe a class of connectionist networks that play back(cid:173)",
            "status": "Poster",
            "gs_citation": 51,
            "author": "G. Tesauro; T. J. Sejnowski",
            "site": "https://papers.nips.cc/paper_files/paper/1987/hash/"
            "d59a1dc497cf2773637256f50f492723-Abstract.html",
        }
    )
    page = (
        "https://proceedings.neurips.cc/paper_files/paper/1987/hash/"
        "d59a1dc497cf2773637256f50f492723-Abstract.html"
    )
    assert (entry.paper.id, entry.paper.url) == (page, page)
    assert entry.paper.authors == ("G. Tesauro", "T. J. Sejnowski")
    assert entry.paper.published == datetime(1987, 1, 1, tzinfo=UTC)
    assert entry.paper.comment == "NeurIPS 1987 (Poster)"
    assert entry.paper.abstract == "We describe a class of connectionist networks that play back"
    listing = entry.listing
    assert (listing.venue, listing.year, listing.status, listing.citations) == (
        "neurips",
        1987,
        "Poster",
        51,
    )
    assert listing.citation_source == "gs"


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ({"arxiv": "1701.07875v3", "doi": "10.1/X"}, "1701.07875"),
        (
            {
                "doi": "10.18653/V1/2021.acl-long.24",
                "openreview": "https://openreview.net/forum?id=a",
            },
            "doi:10.18653/v1/2021.acl-long.24",
        ),
        (
            {
                "openreview": "https://openreview.net/forum?id=B1DmUzWAW",
                "site": "https://iclr.cc/virtual/2018/poster/64",
            },
            "openreview:B1DmUzWAW",
        ),
        (
            {
                "pdf": "https://openreview.net/pdf?id=Hk9",
                "site": "https://proceedings.mlr.press/v70/a17a.html",
            },
            "openreview:Hk9",
        ),
        (
            {"site": "https://aclanthology.org/2021.acl-long.24.pdf"},
            "https://aclanthology.org/2021.acl-long.24/",
        ),
        (
            {"site": "http://WWW.ijcai.org/proceedings/2020/12#top"},
            "https://ijcai.org/proceedings/2020/12",
        ),
        ({"site": "", "pdf": "https://example.org/p.pdf"}, "icml:2017:wasserstein-gan-leon"),
    ],
)
def test_identity_prefers_arxiv_then_doi_then_openreview_then_page_then_slug(
    extra: dict[str, str], key: str
) -> None:
    record = {"venue": "ICML", "year": 2017, "title": "Wasserstein GAN (Léon)", **extra}
    assert parse_record(record).paper.id == key


def test_an_unknown_citation_count_is_none_not_minus_one() -> None:
    entry = parse_record({"venue": "uai", "year": 2019, "title": "T", "gs_citation": -1})
    assert entry.listing.citations is None


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("prob(cid:173) lems of back(cid:173)\npropagation", "problems of backpropagation"),
        ("meth-\nods and net-\n works; Bow-\nfree stays", "methods and networks; Bow-free stays"),
        ("a (cid:12)xed e(cid:14)cient (cid:147)net(cid:148) (cid:2)", 'a fixed efficient "net"'),
        ("Abstract Unavailable", ""),
        ("  spaced   out\ttext ", "spaced out text"),
        (None, ""),
    ],
)
def test_clean_abstract_removes_pdf_extraction_debris(raw: str | None, clean: str) -> None:
    assert clean_abstract(raw) == clean


def test_array_files_name_venue_and_year() -> None:
    assert venue_from_file_name("nips1987.json") == ("neurips", 1987)
    assert venue_from_file_name("iclr2024.json.gz") == ("iclr", 2024)
    assert venue_from_file_name("papers.json") is None
    entry = parse_record({"title": "Optimal Brain Damage"}, venue="neurips", year=1989)
    assert (entry.listing.venue, entry.listing.year) == ("neurips", 1989)
    assert entry.paper.id == "neurips:1989:optimal-brain-damage"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{oops", "invalid JSON: Expecting property name enclosed in double quotes"),
        ("[1]", "expected a JSON object, got list"),
        ('{"venue": "nips", "year": 1990}', "missing 'title'"),
        ('{"title": "T", "year": 1990}', "'T': missing 'venue' (and no venue in the file name)"),
        ('{"title": "T", "venue": "nips", "year": "x"}', "'T': 'year' is not a year: 'x'"),
        ('{"title": "T", "venue": "nips", "year": 20}', "'T': 'year' is not a year: 20"),
    ],
)
def test_bad_records_say_what_is_wrong(line: str, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_json_line(line)
    assert info.value.reason.startswith(reason)


def test_venue_spellings_meet_in_one_key() -> None:
    assert {venue_key(v) for v in ("NeurIPS", "nips", " NIPS ", "neurips")} == {"neurips"}
    assert (venue_name("neurips"), venue_name("icml")) == ("NeurIPS", "ICML")
