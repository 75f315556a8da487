"""arXiv's OAI-PMH interface: every record an archive announced since a datestamp.

Categories are followed here, not through the search API: `ListRecords` with
`metadataPrefix=arXiv` and `set=<archive>` (`cs`, `math`, `physics:astro-ph`) returns every
new, cross-listed or revised record by the datestamp of its announcement, so a cross-list of a
paper submitted last week, a new version and a paper held in moderation all arrive on the
day arXiv announces them. `from` is the newest datestamp the repository reported last time
(inclusive: datestamps are days, so re-reading a day is normal and the store makes it
idempotent); it never comes from the local clock, so a collector that missed days catches up.

Parsing is the standard library's ElementTree; documents with a DTD are refused outright,
so no entity expansion happens, and the HTTP layer caps the body's size.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sources.errors import FetchError, ParseError
from sources.http import HttpClient
from sources.ids import paper_url, parse_arxiv_id
from sources.models import Paper

log = logging.getLogger(__name__)

NAME = "arxiv"
DEFAULT_OAI_URL = "https://oaipmh.arxiv.org/oai"
FIRST_RUN_DAYS = 7  # with no datestamp yet, the first harvest reaches this far back
STATE_PREFIX = "oai:"

_OAI = "{http://www.openarchives.org/OAI/2.0/}"
_ARXIV = "{http://arxiv.org/OAI/arXiv/}"
# Archives that arXiv groups under the `physics` set (`physics:hep-th`); the rest are sets.
_PHYSICS = frozenset(
    "astro-ph cond-mat gr-qc hep-ex hep-lat hep-ph hep-th math-ph nlin nucl-ex nucl-th "
    "physics quant-ph".split()
)
_HTML_HINT = (
    "answered with an HTML page instead of OAI-PMH XML "
    "(check sources.arxiv.oai_url; arXiv may also be in maintenance)"
)


def set_spec(category: str) -> str:
    """The OAI-PMH set holding a category: `cs.LG` -> `cs`, `hep-th` -> `physics:hep-th`."""
    archive = category.split(".", 1)[0]
    return f"physics:{archive}" if archive in _PHYSICS else archive


@dataclass(frozen=True, slots=True)
class Record:
    datestamp: date
    paper: Paper | None  # None for a deleted record or one without a usable id


@dataclass(slots=True)
class Page:
    records: list[Record] = field(default_factory=list)
    token: str | None = None  # resumptionToken for the next page; None on the last


def parse_page(body: bytes, url: str = "", content_type: str = "") -> Page:
    """One ListRecords answer; `noRecordsMatch` is an empty page, other OAI errors raise."""
    where = f" ({url})" if url else ""
    head = body[:1024].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) or "html" in content_type.lower():
        raise FetchError(NAME, _HTML_HINT + where)
    if b"<!doctype" in head or b"<!entity" in body[:4096].lower():
        raise ParseError(NAME, f"refused an OAI-PMH answer that declares a DTD{where}")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        line, column = exc.position
        raise ParseError(NAME, f"malformed XML at line {line}, column {column}{where}") from exc
    if root.tag != f"{_OAI}OAI-PMH":
        raise ParseError(NAME, f"expected an <OAI-PMH> document, got <{root.tag}>{where}")
    for error in root.findall(f"{_OAI}error"):
        code = error.get("code", "")
        if code == "noRecordsMatch":
            return Page()
        text = " ".join((error.text or "").split())
        hint = (
            "; check sources.arxiv.categories" if code in ("badArgument", "noSetHierarchy") else ""
        )
        raise FetchError(NAME, f"OAI-PMH error {code}: {text}{hint}{where}")
    listing = root.find(f"{_OAI}ListRecords")
    if listing is None:
        raise ParseError(NAME, f"the answer has no <ListRecords>{where}")
    page = Page()
    for element in listing.findall(f"{_OAI}record"):
        record = _record(element)
        if record is not None:
            page.records.append(record)
    token = listing.findtext(f"{_OAI}resumptionToken")
    page.token = token.strip() if token and token.strip() else None
    return page


def _record(element: ET.Element) -> Record | None:
    header = element.find(f"{_OAI}header")
    if header is None:
        return None
    stamp = _datestamp(header.findtext(f"{_OAI}datestamp"))
    if stamp is None:
        log.warning("arXiv OAI: skipped a record without a readable datestamp")
        return None
    if header.get("status") == "deleted":
        return Record(stamp, None)
    meta = element.find(f"{_OAI}metadata/{_ARXIV}arXiv")
    if meta is None:
        return Record(stamp, None)
    parsed = parse_arxiv_id(meta.findtext(f"{_ARXIV}id") or "")
    if parsed is None:
        log.warning("arXiv OAI: skipped a record whose id is not an arXiv id")
        return Record(stamp, None)
    names = []
    for author in meta.findall(f"{_ARXIV}authors/{_ARXIV}author"):
        parts = [author.findtext(f"{_ARXIV}{tag}") for tag in ("forenames", "keyname", "suffix")]
        name = _squash(" ".join(p for p in parts if p))
        if name:
            names.append(name)
    created = _day(meta.findtext(f"{_ARXIV}created"))
    updated = _day(meta.findtext(f"{_ARXIV}updated"))
    paper = Paper(
        id=parsed.base,
        title=_squash(meta.findtext(f"{_ARXIV}title")),
        abstract=_squash(meta.findtext(f"{_ARXIV}abstract")),
        authors=tuple(names),
        categories=tuple(dict.fromkeys((meta.findtext(f"{_ARXIV}categories") or "").split())),
        url=paper_url(parsed.base),
        published=created,
        updated=updated or created,
        doi=_squash(meta.findtext(f"{_ARXIV}doi")) or None,
        comment=_squash(meta.findtext(f"{_ARXIV}comments")) or None,
        source=NAME,
        announced=datetime(stamp.year, stamp.month, stamp.day, tzinfo=UTC),
    )
    return Record(stamp, paper)


def _datestamp(text: str | None) -> date | None:
    """A header datestamp, day (`2024-05-06`) or seconds (`2024-05-06T20:00:00Z`) granularity."""
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None


def _day(text: str | None) -> datetime | None:
    day = _datestamp(text)
    return datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None


def _squash(text: str | None) -> str:
    return " ".join(text.split()) if text else ""


# ---- harvesting ------------------------------------------------------------------------------


@dataclass(slots=True)
class Harvest:
    papers: list[Paper] = field(default_factory=list)
    state: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    failed: list[FetchError | ParseError] = field(default_factory=list)
    sets: int = 0  # sets harvested (or tried)


class OaiHarvester:
    """ListRecords over one HTTP client (shared with the API client, so pacing holds for both)."""

    def __init__(self, http: HttpClient, url: str = DEFAULT_OAI_URL):
        self.http = http
        self.url = url

    def pages(self, set_name: str, since: date) -> Iterator[Page]:
        """Every page of a set's records from `since` on, following resumption tokens."""
        params = {
            "verb": "ListRecords",
            "metadataPrefix": "arXiv",
            "set": set_name,
            "from": since.isoformat(),
        }
        what = f"harvest set {set_name} from {since.isoformat()}"
        tokens: set[str] = set()
        while True:
            answer = self.http.get(self.url, params=params, what=what)
            if answer.status != 200:
                # An OAI error document or an HTML page says more than the status does.
                try:
                    parse_page(answer.body, answer.url, answer.content_type)
                except ParseError:
                    pass
                raise FetchError(
                    NAME,
                    f"HTTP {answer.status} while trying to {what}; check sources.arxiv.oai_url",
                )
            page = parse_page(answer.body, answer.url, answer.content_type)
            yield page
            if page.token is None:
                return
            if page.token in tokens:  # a server going round in circles would never end
                raise FetchError(NAME, f"the resumptionToken {page.token!r} came back twice")
            tokens.add(page.token)
            params = {"verb": "ListRecords", "resumptionToken": page.token}

    def collect(self, categories: Iterable[str], state: Mapping[str, str], today: date) -> Harvest:
        """Records in the followed categories announced since each set's last datestamp.

        A set that fails keeps its old datestamp (the next run reads the gap again) and the
        papers read before the failure; the new datestamp is the newest the repository reported.
        """
        followed = list(dict.fromkeys(categories))
        by_set: dict[str, set[str]] = {}
        for category in followed:
            by_set.setdefault(set_spec(category), set()).add(category)
        harvest = Harvest(sets=len(by_set))
        seen: dict[str, Paper] = {}
        for set_name, wanted in by_set.items():
            key = STATE_PREFIX + set_name
            since = _datestamp(state.get(key)) or today - timedelta(days=FIRST_RUN_DAYS)
            newest: date | None = None
            kept = 0
            try:
                for page in self.pages(set_name, since):
                    for record in page.records:
                        newest = (
                            record.datestamp if newest is None else max(newest, record.datestamp)
                        )
                        paper = record.paper
                        if paper is not None and wanted.intersection(paper.categories):
                            seen[paper.id] = paper
                            kept += 1
            except (FetchError, ParseError) as exc:
                more = f"; kept {kept} papers read before it" if kept else ""
                harvest.notes.append(f"set {set_name}: {exc.reason}{more}")
                harvest.failed.append(exc)
                continue
            if newest is not None:
                harvest.state[key] = max(newest, since).isoformat()
        harvest.papers = list(seen.values())
        return harvest
