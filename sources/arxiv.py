"""The arXiv collector: categories by announcement (OAI-PMH), keyword queries, id look-ups.

Categories are harvested through OAI-PMH (`sources.oai`): every record announced in the
category's archive since the last datestamp. Keyword `queries`, id look-ups and the live
search go through the search API, built on the `arxiv` package, whose paging and Atom
parsing we keep but whose transport we replace through its one fetch seam
(`Client._parse_feed`): the package sets no HTTP timeout, does not retry read timeouts and
returns an empty result when a page is HTML or an error entry. Both interfaces share one
`sources.http` client, so requests stay `delay_seconds` apart across them, every request has
a wall-clock deadline and a size cap, and anything that is not the promised XML becomes a
FetchError or ParseError that says why.

Query walks go newest first and stop at the cursor (the newest `published` time seen last
run), so a daily collect asks arXiv for one page, not two thousand papers.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime

import arxiv
from arxiv._feed import ParsedFeed, parse

from sources.errors import FetchError, ParseError, SourceError
from sources.http import SYSTEM_CLOCK, Clock, HttpClient, Policy, Retryable
from sources.ids import paper_url, parse_arxiv_id
from sources.models import Batch, Paper
from sources.oai import DEFAULT_OAI_URL, OaiHarvester

logger = logging.getLogger(__name__)

NAME = "arxiv"
DEFAULT_API_URL = "https://export.arxiv.org/api/query"
LOOKUP_BATCH = 100  # ids per id_list request: short URLs, one page each

_ATOM = "{http://www.w3.org/2005/Atom}"
_CATEGORY = re.compile(r"^[a-z-]+(?:\.[A-Za-z-]+)?$")  # drops ACM/MSC codes like I.2.6, 68T05
_CURSOR = "cursor:"


class PoliteClient(arxiv.Client):  # type: ignore[misc]
    """An `arxiv.Client` pointed at `api_url` that fetches through our HTTP client.

    One HttpClient is shared by every search of a collector (and its OAI harvests), so
    `delay_seconds` holds across categories, queries, pages and retries alike.
    """

    def __init__(self, http: HttpClient, api_url: str = DEFAULT_API_URL, *, page_size: int = 200):
        super().__init__(page_size=page_size, delay_seconds=0.0, num_retries=http.policy.retries)
        # The package formats its URLs from this attribute; an instance value leaves the class alone.
        self.query_url_format = api_url.replace("{", "{{").replace("}", "}}") + "?{}"
        self.http = http

    def _format_url(self, search: arxiv.Search, start: int, page_size: int) -> str:
        # The package always asks for a full page; a search for 5 papers needs a page of 5.
        wanted = search.max_results or page_size
        return str(super()._format_url(search, start, max(1, min(page_size, wanted))))

    def _parse_feed(self, url: str, first_page: bool = True, _try_index: int = 0) -> ParsedFeed:
        return self.http.call(lambda: self._fetch(url, first_page), f"query the API ({url})")

    def _fetch(self, url: str, first_page: bool) -> ParsedFeed:
        logger.debug("arXiv request: %s", url)
        answer = self.http.get_once(url)
        if answer.status != 200:
            why = _api_error(answer.body) or "no reason given"
            raise FetchError(NAME, f"HTTP {answer.status}: {why} ({url})")
        feed = check_feed(answer.body, url, answer.content_type)
        if not feed.results and not first_page:
            raise Retryable("a later page came back empty")
        return feed


def check_feed(content: bytes, url: str = "", content_type: str = "") -> ParsedFeed:
    """Parse one API answer, refusing what the package would silently read as 'no results'."""
    where = f" ({url})" if url else ""
    try:
        root = ET.fromstring(content)
    except ET.ParseError as exc:
        if _looks_like_html(content, content_type):
            raise FetchError(NAME, _HTML_HINT + where) from exc
        line, column = exc.position
        raise ParseError(
            NAME, f"malformed XML at line {line}, column {column}: {exc}{where}"
        ) from exc
    if root.tag != f"{_ATOM}feed":
        if _looks_like_html(content, content_type) or root.tag.lower().endswith("html"):
            raise FetchError(NAME, _HTML_HINT + where)
        raise ParseError(NAME, f"expected an Atom <feed>, got <{root.tag}>{where}")
    error = _error_entry(root)
    if error:
        raise FetchError(NAME, f"arXiv rejected the request: {error}{where}")
    feed = parse(content)
    entries = len(root.findall(f"{_ATOM}entry"))
    if len(feed.results) < entries:
        logger.warning(
            "arXiv: skipped %d entries without id or dates%s", entries - len(feed.results), where
        )
    return feed


_HTML_HINT = (
    "answered with an HTML page instead of an Atom feed "
    "(check sources.arxiv.api_url; arXiv may also be in maintenance)"
)


def _looks_like_html(content: bytes, content_type: str) -> bool:
    head = content[:512].lstrip().lower()
    return "html" in content_type.lower() or head.startswith((b"<!doctype html", b"<html"))


def _error_entry(root: ET.Element) -> str | None:
    for entry in root.iter(f"{_ATOM}entry"):
        entry_id = entry.findtext(f"{_ATOM}id") or ""
        if "/api/errors" in entry_id:
            summary = entry.findtext(f"{_ATOM}summary") or entry_id
            return " ".join(summary.split())
    return None


def _api_error(content: bytes) -> str | None:
    try:
        return _error_entry(ET.fromstring(content))
    except ET.ParseError:
        return None


# ---- Result -> Paper -----------------------------------------------------------------------


def to_paper(result: arxiv.Result) -> Paper:
    """One API entry as a Paper keyed by its version-less id; raises ParseError if it has none."""
    parsed = parse_arxiv_id(result.get_short_id())
    if parsed is None:
        raise ParseError(NAME, f"entry id {result.entry_id!r} is not an arXiv id")
    categories = [
        c for c in [result.primary_category, *result.categories] if c and _CATEGORY.match(c)
    ]
    return Paper(
        id=parsed.base,
        version=parsed.version,
        title=_squash(result.title),
        abstract=_squash(result.summary),
        authors=tuple(name for a in result.authors if (name := _squash(a.name))),
        categories=tuple(dict.fromkeys(categories)),
        url=paper_url(parsed.base),
        published=result.published,
        updated=result.updated,
        doi=_squash(result.doi) or None,
        comment=_squash(result.comment) or None,
        source=NAME,
        announced=result.updated or result.published,
    )


def _squash(text: str | None) -> str:
    return " ".join(text.split()) if text else ""


# ---- the collector -------------------------------------------------------------------------


class ArxivCollector:
    """New papers per category (by announcement) and keyword query, plus look-ups and search."""

    name = NAME

    def __init__(
        self,
        *,
        api_url: str = DEFAULT_API_URL,
        oai_url: str = DEFAULT_OAI_URL,
        categories: Iterable[str] = (),
        queries: Iterable[str] = (),
        delay_seconds: float = 3.0,
        timeout_seconds: float = 30.0,
        page_size: int = 200,
        max_results: int = 2000,
        retries: int = 4,
        max_bytes: int = 100_000_000,
        clock: Clock = SYSTEM_CLOCK,
    ):
        self.categories = list(dict.fromkeys(categories))
        self.queries = list(dict.fromkeys(queries))
        self.max_results = max_results
        self.clock = clock
        self.http = HttpClient(
            NAME,
            Policy(
                timeout_seconds=timeout_seconds,
                delay_seconds=delay_seconds,
                retries=retries,
                backoff_seconds=max(delay_seconds, 1.0),
                max_bytes=max_bytes,
            ),
            clock=clock,
        )
        self.client = PoliteClient(self.http, api_url, page_size=page_size)
        self.oai = OaiHarvester(self.http, oai_url)

    def collect(self, state: Mapping[str, str]) -> Batch:
        """Categories' newly announced records, then each query's results newer than its cursor.

        A set or query that fails is a note and keeps its old cursor (so the next run fills
        the gap); only when every one fails before yielding a paper is it a FetchError.
        """
        batch = Batch()
        if not (self.categories or self.queries):
            batch.notes.append("no categories or queries configured; nothing to collect")
            return batch
        seen: dict[str, Paper] = {}
        failures: list[str] = []
        errors: list[SourceError] = []
        targets = 0
        if self.categories:
            harvest = self.oai.collect(self.categories, state, self.clock.now().date())
            targets += harvest.sets
            for paper in harvest.papers:
                seen[paper.id] = paper
            batch.state.update(harvest.state)
            batch.notes.extend(harvest.notes)
            failures.extend(harvest.notes)  # one per failed set
            errors.extend(harvest.failed)
        for target in self.queries:
            targets += 1
            key = _CURSOR + target
            cursor = _parse_time(state.get(key))
            got, newest, error = self._walk(target, cursor, batch.notes)
            for paper in got:
                seen[paper.id] = _newer(seen.get(paper.id), paper)
            if error is not None:
                kept = f"; kept {len(got)} papers from before it" if got else ""
                batch.notes.append(f"{target}: {error.reason}{kept}")
                if not got:
                    failures.append(f"{target}: {error.reason}")
                    errors.append(error)
                continue
            if newest is not None and (cursor is None or newest > cursor):
                batch.state[key] = newest.isoformat()
        if errors and len(errors) >= targets and not seen:
            kinds = {type(e) for e in errors}
            cls = kinds.pop() if len(kinds) == 1 else FetchError
            raise cls(NAME, "every category and query failed: " + "; ".join(failures)) from errors[
                -1
            ]
        batch.papers = list(seen.values())
        return batch

    def _walk(
        self, target: str, cursor: datetime | None, notes: list[str]
    ) -> tuple[list[Paper], datetime | None, SourceError | None]:
        search = arxiv.Search(
            query=target,
            max_results=self.max_results,
            sort_by=arxiv.SortCriterion.SubmittedDate,
            sort_order=arxiv.SortOrder.Descending,
        )
        papers: list[Paper] = []
        newest: datetime | None = None
        reached_cursor = cursor is None
        try:
            for result in self.client.results(search):
                if cursor is not None and result.published <= cursor:
                    reached_cursor = True
                    break
                newest = result.published if newest is None else max(newest, result.published)
                try:
                    papers.append(to_paper(result))
                except ParseError as exc:
                    notes.append(f"{target}: skipped an entry: {exc.reason}")
        except SourceError as exc:
            return papers, None, exc
        if not reached_cursor and len(papers) >= self.max_results:
            notes.append(
                f"{target}: stopped at max_results={self.max_results} before reaching the papers "
                "collected last time; kept the old cursor, raise max_results to close the gap"
            )
            return papers, None, None  # advancing the cursor would skip the gap for good
        return papers, newest, None

    def lookup(self, ids: Iterable[str]) -> list[Paper]:
        """Metadata for ids found elsewhere (Reddit, feeds), LOOKUP_BATCH per request.

        Ids are normalised to version-less keys, so arXiv answers with the latest version;
        an id that is not an arXiv id is skipped with a warning, one arXiv does not know is
        simply absent from the answer.
        """
        keys: list[str] = []
        for raw in ids:
            parsed = parse_arxiv_id(raw)
            if parsed is None:
                logger.warning("arXiv look-up: %r is not an arXiv id; skipped", raw)
                continue
            keys.append(parsed.base)
        keys = list(dict.fromkeys(keys))
        papers: list[Paper] = []
        for start in range(0, len(keys), LOOKUP_BATCH):
            chunk = keys[start : start + LOOKUP_BATCH]
            search = arxiv.Search(id_list=chunk, max_results=len(chunk))
            papers.extend(self._papers(self.client.results(search)))
        return papers

    def search(self, query: str, max_results: int = 50) -> list[Paper]:
        """A live relevance-ordered search in arXiv's query syntax (`midlist query --live`)."""
        if not query.strip():
            raise ValueError("the arXiv search query is empty")
        search = arxiv.Search(
            query=query, max_results=max_results, sort_by=arxiv.SortCriterion.Relevance
        )
        return list(self._papers(self.client.results(search)))

    def _papers(self, results: Iterator[arxiv.Result]) -> Iterator[Paper]:
        for result in results:
            try:
                yield to_paper(result)
            except ParseError as exc:
                logger.warning("arXiv: skipped an entry: %s", exc.reason)


def _newer(held: Paper | None, paper: Paper) -> Paper:
    if held is None or (paper.version or 0) >= (held.version or 0):
        return paper
    return held


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        logger.warning("arXiv: ignoring an unreadable cursor %r", value)
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
