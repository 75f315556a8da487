"""RSS/Atom feeds: arXiv listings become papers, blog posts that cite papers become mentions.

Fetching is `sources.http`'s (a wall-clock deadline, a size cap, conditional GET, retries)
and parsing is feedparser's, fed bytes only, so it never opens a URL itself. A malformed feed
is parsed as far as it goes and the trouble is reported in the batch notes.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from sources.errors import FetchError
from sources.html import plain_text
from sources.http import SYSTEM_CLOCK, Answer, Clock, HttpClient, Policy
from sources.ids import parse_arxiv_id
from sources.links import FoundLink, arxiv_url, canonical, find_links
from sources.models import Batch, Mention, Paper
from sources.sanitize import clean_char_refs

log = logging.getLogger(__name__)

_ANNOUNCE = re.compile(r"Announce Type:\s*(?P<type>[\w-]+)", re.IGNORECASE)
_ABSTRACT_PREFIX = re.compile(r"^\s*arXiv:\S+\s+Announce Type:\s*[\w-]+\s*(?:Abstract:\s*)?", re.I)


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One configured feed (bot/config.py `Feed`, without the config machinery)."""

    name: str
    url: str
    kind: str = "blog"  # blog | arxiv-rss | paper-list
    announce_types: tuple[str, ...] = ("new", "cross")
    timeout_seconds: float = 20.0
    max_bytes: int = 10_000_000
    retries: int = 2
    user_agent: str = "midlist/0.1 (paper discovery bot)"


@dataclass(slots=True)
class FeedCollector:
    """Collector for one feed; its name (`feed:<name>`) is the mentions' source and state key."""

    spec: FeedSpec
    clock: Clock = SYSTEM_CLOCK
    backoff_seconds: float = 2.0

    @property
    def name(self) -> str:
        return f"feed:{self.spec.name}"

    def collect(self, state: Mapping[str, str]) -> Batch:
        http = HttpClient(
            self.name,
            Policy.of(self.spec, backoff_seconds=self.backoff_seconds),
            clock=self.clock,
        )
        try:
            fetched = fetch(self.spec, http, etag=state.get("etag"), modified=state.get("modified"))
        finally:
            http.close()
        if fetched.status == 304:
            batch = Batch(state=dict(state))
            batch.notes.append("not modified since the last run")
            return batch
        batch = parse_feed(
            fetched.body, self.spec, url=fetched.url, content_type=fetched.content_type
        )
        if not (batch.papers or batch.mentions) and _is_html(fetched.body):
            raise FetchError(
                self.name,
                f"{fetched.url} answered with an HTML page, not an RSS or Atom feed; "
                "check the feed's url",
            )
        if fetched.url != self.spec.url:
            batch.notes.append(
                f"{self.spec.url} redirects to {fetched.url}; consider updating the feed's url"
            )
        if fetched.truncated:
            batch.notes.append(
                f"the feed is larger than max_bytes ({self.spec.max_bytes}); only the "
                "first part was read. Raise max_bytes for this feed to read all of it"
            )
            return batch  # no validators kept: the next run reads it again
        batch.state = {"url": fetched.url}
        if etag := fetched.headers.get("ETag"):
            batch.state["etag"] = etag
        if modified := fetched.headers.get("Last-Modified"):
            batch.state["modified"] = modified
        return batch


# ---- fetching --------------------------------------------------------------------------------


def fetch(
    spec: FeedSpec, http: HttpClient, *, etag: str | None = None, modified: str | None = None
) -> Answer:
    """GET the feed with validators (304 means unchanged); a cut body is `truncated`."""
    headers = {
        "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5",
    }
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified
    answer = http.get(spec.url, headers=headers, truncate=True, what=f"read {spec.url}")
    if answer.status >= 400:
        raise FetchError(http.source, f"HTTP {answer.status} from {spec.url}; check the feed's url")
    return answer


# ---- parsing ---------------------------------------------------------------------------------


def parse_feed(body: bytes, spec: FeedSpec, *, url: str = "", content_type: str = "") -> Batch:
    """Papers and mentions from a feed document; never raises for a malformed one."""
    source = f"feed:{spec.name}"
    # Without a content type feedparser flags every feed; bytes we hold are XML until proven not.
    headers = {
        "content-location": url or spec.url,
        "content-type": content_type or "application/xml",
    }
    # Relative links are ours to resolve: against the post's own link, as a reader would.
    parsed = feedparser.parse(
        io.BytesIO(clean_char_refs(body)), response_headers=headers, resolve_relative_uris=False
    )
    batch = Batch()
    problem = parsed.get("bozo_exception")
    if isinstance(problem, feedparser.CharacterEncodingOverride):
        log.info("%s: %s", source, problem)  # a wrong charset header; the text decoded fine
    elif parsed.get("bozo"):
        batch.notes.append(
            f"the feed is not well-formed ({problem}); read {len(parsed.entries)} entries from it"
        )
        if not parsed.entries and not parsed.feed:
            return batch
    base = parsed.feed.get("link") or url or spec.url
    papers: dict[str, Paper] = {}
    skipped: dict[str, int] = {}
    for entry in parsed.entries:
        if spec.kind == "arxiv-rss":
            found = arxiv_entry(entry, source)
            if found is None:
                continue
            paper, announce = found
            if announce and announce not in spec.announce_types:
                skipped[announce] = skipped.get(announce, 0) + 1
                continue
            papers[paper.id] = paper
        else:
            entry_papers, entry_mentions = post_mentions(entry, spec, base)
            papers.update((p.id, p) for p in entry_papers)
            batch.mentions.extend(entry_mentions)
    batch.papers = list(papers.values())
    if skipped:
        what = ", ".join(f"{n} {kind}" for kind, n in sorted(skipped.items()))
        batch.notes.append(f"skipped {what} (not in announce_types)")
    return batch


def arxiv_entry(entry: Mapping[str, Any], source: str) -> tuple[Paper, str | None] | None:
    """An arXiv RSS item as a Paper, with its announce type (new / cross / replace / ...)."""
    raw_id = str(entry.get("id") or "").removeprefix("oai:arXiv.org:")
    parsed = parse_arxiv_id(raw_id)
    if parsed is None:
        found = canonical(str(entry.get("link") or ""))
        parsed = parse_arxiv_id(found[0]) if found else None
    if parsed is None:
        return None
    summary = plain_text(str(entry.get("summary") or ""))
    announce = entry.get("arxiv_announce_type") or entry.get("announce_type")
    if not announce and (m := _ANNOUNCE.search(summary)):
        announce = m["type"]
    authors = entry.get("authors") or []
    names = [a.get("name", "") for a in authors if isinstance(a, Mapping)] if authors else []
    if len(names) <= 1:
        names = [n.strip() for n in str(entry.get("author") or "").split(",")]
    tags = [t.get("term", "") for t in entry.get("tags") or [] if isinstance(t, Mapping)]
    paper = Paper(
        id=parsed.base,
        title=" ".join(str(entry.get("title") or "").split()),
        abstract=_ABSTRACT_PREFIX.sub("", summary).strip(),
        authors=tuple(n for n in names if n),
        categories=tuple(t for t in tags if t),
        url=arxiv_url(parsed.base),
        published=_when(entry),
        version=parsed.version,
        source=source,
        announced=_listing_day(entry),
    )
    return paper, str(announce).lower() if announce else None


def post_mentions(
    entry: Mapping[str, Any], spec: FeedSpec, base: str
) -> tuple[list[Paper], list[Mention]]:
    """A post's own link (when it is a paper) and every paper it cites, as mentions."""
    source = f"feed:{spec.name}"
    title = " ".join(str(entry.get("title") or "").split())
    link = urljoin(base, str(entry.get("link") or "")) if entry.get("link") else ""
    where = link or base
    external = str(entry.get("id") or link or hashlib.sha1(title.encode()).hexdigest()[:16])
    who = str(entry.get("author") or spec.name)
    when = _when(entry)
    links: list[FoundLink] = []
    own = canonical(link) if link else None
    if own:
        links.append(FoundLink(own[0], own[1], title or None, title))
    body = "\n".join(
        str(c.get("value", "")) for c in entry.get("content") or [] if isinstance(c, Mapping)
    )
    body = body or str(entry.get("summary") or "")
    seen = {fl.paper_id for fl in links}
    for fl in find_links(body, html=True, base_url=link or base):
        if fl.paper_id not in seen:
            seen.add(fl.paper_id)
            links.append(fl)
    papers: list[Paper] = []
    mentions: list[Mention] = []
    for fl in links:
        own_link = own is not None and fl.paper_id == own[0]
        context = title if own_link else f"{title}: {fl.context}" if title else fl.context
        mentions.append(
            Mention(
                paper_id=fl.paper_id,
                source=source,
                external_id=external,
                where=where,
                seen_at=when,
                who=who,
                context=context,
                title_hint=fl.text,
            )
        )
        if fl.text and not fl.is_arxiv:
            abstract = plain_text(body) if own_link and spec.kind == "paper-list" else ""
            papers.append(
                Paper(
                    id=fl.paper_id,
                    title=fl.text,
                    abstract=abstract,
                    url=fl.url,
                    published=when,
                    source=source,
                )
            )
    return papers, mentions


def _is_html(body: bytes) -> bool:
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html"))


def _when(entry: Mapping[str, Any]) -> datetime | None:
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    if not stamp:
        return None
    return datetime.fromtimestamp(calendar.timegm(stamp), UTC)


def _listing_day(entry: Mapping[str, Any]) -> datetime | None:
    """The day an arXiv listing announced the entry: the item's date, at midnight UTC."""
    when = _when(entry)
    return when.replace(hour=0, minute=0, second=0, microsecond=0) if when else None
