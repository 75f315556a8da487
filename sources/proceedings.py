"""Proceedings lists (paperlists-style records) -> papers with their venue, year and citations.

Two layouts carry the same fields: one JSON object a line (`venue`, `year` and `source_file`
added), or the collection's own files, one JSON array per venue-year (`nips1987.json`), where
venue and year come from the file name. A record has `title`, `abstract`, `author` ("A; B"),
`status` (Oral, Poster, ...), `site`, `pdf`, maybe `doi`, `openreview`, `arxiv`, and Google
Scholar's count `gs_citation` (-1: unknown). Pure: no I/O beyond the parsing.

Identity, in order: the arXiv id the record names (one paper, one row), its DOI, its
OpenReview forum, its page URL (canonical form), else `venue:year:slug-of-title`.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sources.errors import ParseError
from sources.ids import parse_arxiv_id
from sources.links import arxiv_url, canonical, doi_key
from sources.models import Paper
from sources.snapshot import split_authors

SOURCE = "proceedings"
CITATION_SOURCE = "gs"  # Google Scholar, as the lists ship it

# Venue keys as the lists spell them -> the key midlist stores and matches (`venues: [neurips]`).
VENUE_ALIASES = {"nips": "neurips", "neurips": "neurips"}
# How a venue key reads in a sentence; keys not listed are upper-cased.
VENUE_NAMES = {
    "neurips": "NeurIPS",
    "automl": "AutoML",
    "colm": "COLM",
    "corl": "CoRL",
}

_FILE_NAME = re.compile(r"(?P<venue>[a-z]+)(?P<year>(?:19|20)\d{2})\.json(?:\.gz)?$", re.I)
# pdfminer writes glyphs it cannot map as (cid:N); N are TeX font positions in these PDFs.
_CID = re.compile(r"\(cid:(\d+)\)\s*")
_CID_TEXT = {11: "ff", 12: "fi", 13: "fl", 14: "ffi", 15: "ffl", 147: '"', 148: '"', 96: "'"}
_SOFT_HYPHEN = 173  # a word broken at a line end: the rest follows after the line break
_LINE_HYPHEN = re.compile(r"\b([A-Za-z]+)-[ \t]*\n\s*(?=[a-z])")
_NO_ABSTRACT = {"abstract unavailable", "no abstract available", "n/a", "none"}


@dataclass(frozen=True, slots=True)
class Listing:
    """Where and how a paper appeared: its venue (a key like `neurips`), year, status."""

    paper_id: str
    venue: str
    year: int
    status: str | None = None
    citations: int | None = None  # None: the list does not know
    citation_source: str = CITATION_SOURCE


@dataclass(frozen=True, slots=True)
class Entry:
    paper: Paper
    listing: Listing


def venue_key(name: str) -> str:
    """`NeurIPS`, `nips`, ` NIPS ` -> `neurips`: one spelling to store and to match."""
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    return VENUE_ALIASES.get(key, key)


def venue_name(key: str) -> str:
    return VENUE_NAMES.get(key, key.upper())


def venue_from_file_name(name: str) -> tuple[str, int] | None:
    """`nips1987.json` -> ("neurips", 1987); the collection names its files this way."""
    m = _FILE_NAME.search(name)
    return (venue_key(m["venue"]), int(m["year"])) if m else None


def looks_like_listing(record: dict[str, Any]) -> bool:
    """True for a proceedings record (a Kaggle arXiv record has `id` and no `author`/`site`)."""
    return "gs_citation" in record or (
        "title" in record and ("author" in record or "site" in record) and "authors" not in record
    )


def parse_record(record: Any, *, venue: str | None = None, year: int | None = None) -> Entry:
    """One record -> Entry; `venue`/`year` fill in for array files that do not repeat them."""
    if not isinstance(record, dict):
        raise ParseError(SOURCE, f"expected a JSON object, got {type(record).__name__}")
    title = _text(record.get("title"))
    if not title:
        raise ParseError(SOURCE, "missing 'title'")
    raw_venue = record.get("venue") or venue
    if not isinstance(raw_venue, str) or not raw_venue.strip():
        raise ParseError(SOURCE, f"{title[:60]!r}: missing 'venue' (and no venue in the file name)")
    when = record.get("year", year)
    try:
        when = int(when)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ParseError(SOURCE, f"{title[:60]!r}: 'year' is not a year: {when!r}") from None
    if not 1900 <= when <= 2100:
        raise ParseError(SOURCE, f"{title[:60]!r}: 'year' is not a year: {when!r}")
    key = venue_key(raw_venue)
    paper_id, url = identity(record, key, when, title)
    doi = doi_key(str(record["doi"])) if record.get("doi") else None
    paper = Paper(
        id=paper_id,
        title=title,
        abstract=clean_abstract(record.get("abstract")),
        authors=_authors(record.get("author") or record.get("authors")),
        url=url,
        published=datetime(when, 1, 1, tzinfo=UTC),
        doi=doi[0].removeprefix("doi:") if doi and doi[0].startswith("doi:") else None,
        comment=_comment(key, when, record.get("status")),
        source=SOURCE,
    )
    listing = Listing(
        paper_id=paper_id,
        venue=key,
        year=when,
        status=_text(record.get("status")) or None,
        citations=_citations(record.get("gs_citation")),
    )
    return Entry(paper, listing)


def identity(record: dict[str, Any], venue: str, year: int, title: str) -> tuple[str, str]:
    """(key, reading URL): arXiv id, DOI, OpenReview forum, page URL, else venue:year:slug."""
    arxiv = parse_arxiv_id(str(record.get("arxiv") or ""))
    if arxiv is not None:
        return arxiv.base, arxiv_url(arxiv.base)
    if record.get("doi") and (found := doi_key(str(record["doi"]))):
        return found
    site = record.get("site")
    site_key = canonical(_old_host(site)) if isinstance(site, str) and site.strip() else None
    for name in ("openreview", "pdf"):  # the forum may be named by either, or by the site
        value = record.get(name)
        if isinstance(value, str) and "openreview.net" in value:
            found = canonical(value)
            if found and found[0].startswith("openreview:"):
                return found
    if site_key:
        return site_key
    if isinstance(site, str) and (page := page_url(site)):
        return page, page
    return f"{venue}:{year}:{slug(title)}", ""


def page_url(url: str) -> str | None:
    """https, lower-case host without `www.`, no fragment: one spelling of a proceedings page."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower().removeprefix("www.")
    return urlunsplit(("https", host, parts.path, parts.query, ""))


def slug(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:80] or "untitled"


def clean_abstract(value: Any) -> str:
    """PDF-extraction debris out: (cid:N) glyphs, words broken at line ends, placeholders."""
    if not value or not isinstance(value, str):
        return ""
    text = _CID.sub(_cid, value) if "(cid:" in value else value
    text = _LINE_HYPHEN.sub(_rejoin, text) if "-" in text and "\n" in text else text
    text = " ".join(text.split())
    if text.lower().rstrip(".") in _NO_ABSTRACT:
        return ""
    return text


def _rejoin(m: re.Match[str]) -> str:
    """`meth-<newline>ods` -> `methods`; `Bow-<newline>free` keeps its hyphen (a compound)."""
    word = m.group(1)
    return word if word.islower() else f"{word}-"


def _cid(m: re.Match[str]) -> str:
    code = int(m.group(1))
    if code == _SOFT_HYPHEN:
        return ""
    trailing = " " if m.group(0)[-1:].isspace() else ""
    return _CID_TEXT.get(code, "") + trailing


def _old_host(url: str) -> str:
    """papers.nips.cc serves the same pages as proceedings.neurips.cc."""
    if "papers.n" not in url:
        return url
    return re.sub(
        r"^(https?://)(?:papers\.nips\.cc|papers\.neurips\.cc)/",
        r"\1proceedings.neurips.cc/",
        url.strip(),
    )


def _authors(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(_text(v) for v in value if _text(v))
    text = str(value or "")
    if ";" in text:
        return tuple(name for name in (_text(p) for p in text.split(";")) if name)
    return split_authors(text)


def _citations(value: Any) -> int | None:
    try:
        count = int(value)
    except (TypeError, ValueError):
        return None
    return count if count >= 0 else None


def _comment(venue: str, year: int, status: Any) -> str:
    status_text = _text(status)
    return f"{venue_name(venue)} {year}" + (f" ({status_text})" if status_text else "")


def _text(value: Any) -> str:
    return " ".join(str(value).split()) if value else ""


def parse_json_line(line: str | bytes) -> Entry:
    """One line of the JSON-lines layout."""
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise ParseError(SOURCE, f"invalid JSON: {str(exc).splitlines()[0][:120]}") from exc
    except RecursionError as exc:
        raise ParseError(SOURCE, "invalid JSON: nested too deeply") from exc
    return parse_record(record)
