"""Reddit: papers people cite in "What Are You Reading" threads, as mentions with their words.

praw does the API (read-only app credentials; endpoints from config so tests can point it
at a local server). Two things praw does not do for us: prawcore sends its own fixed
16 s timeout with every call whatever `timeout` says, so it is handed a `sources.http`
session that imposes ours as a wall-clock deadline and caps every body; and prawcore never
retries a 429, so each API step runs through `HttpClient.call`, which waits for Retry-After
and tries again. Every praw/prawcore failure becomes a FetchError through `sources.http`'s
error table.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import praw
import praw.models

from sources.errors import FetchError
from sources.http import SYSTEM_CLOCK, Clock, HttpClient, Policy
from sources.links import FoundLink, canonical, find_links
from sources.models import Batch, Mention, Paper

log = logging.getLogger(__name__)

T = TypeVar("T")
SOURCE = "reddit"
WEB = "https://www.reddit.com"  # for the links people click, never called
_TAG = re.compile(r"^\s*\[[A-Za-z]{1,3}\]\s*")  # "[R] ", "[D] "


@dataclass(frozen=True, slots=True)
class RedditSpec:
    """bot/config.py `RedditSource`, secrets unwrapped, without the config machinery."""

    client_id: str
    client_secret: str
    user_agent: str = "midlist/0.1 (paper discovery bot)"
    base_url: str = "https://oauth.reddit.com"
    auth_url: str = "https://www.reddit.com"
    subreddits: tuple[str, ...] = ("MachineLearning",)
    thread_pattern: str = r"What Are You Reading|WAYR"
    extra_searches: tuple[str, ...] = ()
    lookback_days: int = 30
    replace_more_limit: int = 32
    timeout_seconds: float = 20.0
    retries: int = 2
    max_bytes: int = 20_000_000  # per answer
    seen_limit: int = 5000  # comment ids remembered between runs


@dataclass(slots=True)
class RedditCollector:
    spec: RedditSpec
    clock: Clock = SYSTEM_CLOCK
    backoff_seconds: float = 2.0
    name: str = SOURCE
    _http: HttpClient | None = field(default=None, init=False, repr=False)

    def collect(self, state: Mapping[str, str]) -> Batch:
        seen_before = state.get("seen_comments", "").split()
        seen = set(seen_before)
        fresh: list[str] = []
        batch = Batch()
        papers: dict[str, Paper] = {}
        cutoff = self.clock.now() - timedelta(days=self.spec.lookback_days)
        http = HttpClient(
            SOURCE,
            Policy.of(self.spec, backoff_seconds=self.backoff_seconds),
            clock=self.clock,
        )
        self._http = http
        reddit = self._client(http)
        try:
            threads = self._threads(reddit, cutoff)
            if not threads:
                where = ", ".join(f"r/{s}" for s in self.spec.subreddits)
                batch.notes.append(
                    f"no thread matching /{self.spec.thread_pattern}/ in {where} in the last "
                    f"{self.spec.lookback_days} days"
                )
            for thread in threads:
                for comment in self._comments(thread, batch):
                    if comment.id not in seen:
                        seen.add(comment.id)
                        fresh.append(comment.id)
                        self._add(batch, papers, find_links(comment.body or ""), comment, thread)
            for post in self._extra_posts(reddit, cutoff):
                self._add(batch, papers, _post_links(post), post, post)
        finally:
            http.close()
        batch.papers = list(papers.values())
        kept = (seen_before + fresh)[-self.spec.seen_limit :]
        batch.state = {"seen_comments": " ".join(kept)}
        return batch

    def _comments(self, thread: Any, batch: Batch) -> list[Any]:
        """Every comment of a thread, "load more" expanded as far as replace_more_limit allows."""
        self._call(lambda: thread.comments, f"read the comments of {thread.permalink}")
        try:
            left = self._call(
                lambda: thread.comments.replace_more(limit=self.spec.replace_more_limit),
                f"expand the comments of {thread.permalink}",
            )
        except FetchError as exc:  # keep what loaded; unread comments are not marked seen
            batch.notes.append(f"{exc.reason}; kept the comments read so far")
            left = []
        if left:
            batch.notes.append(
                f"{len(left)} comment branches of '{thread.title}' left unread "
                "(raise replace_more_limit to read more)"
            )
        return [c for c in thread.comments.list() if isinstance(c, praw.models.Comment)]

    # ---- finding threads -------------------------------------------------------------------

    def _threads(self, reddit: praw.Reddit, cutoff: datetime) -> list[Any]:
        pattern = re.compile(self.spec.thread_pattern, re.IGNORECASE)
        found: dict[str, Any] = {}
        query = search_query(self.spec.thread_pattern)
        for name in self.spec.subreddits:
            sub = reddit.subreddit(name)
            listings: list[tuple[str, Callable[[], Iterable[Any]]]] = [
                ("new posts", partial(sub.new, limit=100)),
            ]
            if query:
                listings.insert(0, ("search", self._search(sub, query)))
            for what, listing in listings:
                posts = self._call(partial(_listed, listing), f"list {what} in r/{name}")
                for post in posts:
                    if pattern.search(post.title) and _created(post) >= cutoff:
                        found.setdefault(post.id, post)
        return sorted(found.values(), key=_created)

    def _extra_posts(self, reddit: praw.Reddit, cutoff: datetime) -> list[Any]:
        found: dict[str, Any] = {}
        for name in self.spec.subreddits:
            sub = reddit.subreddit(name)
            for query in self.spec.extra_searches:
                posts = self._call(
                    partial(_listed, self._search(sub, query)), f"search r/{name} for {query!r}"
                )
                for post in posts:
                    if _created(post) >= cutoff:
                        found.setdefault(post.id, post)
        return list(found.values())

    def _search(self, sub: Any, query: str) -> Callable[[], Iterable[Any]]:
        window = _time_filter(self.spec.lookback_days)
        return partial(sub.search, query, sort="new", time_filter=window, limit=100)

    # ---- mentions --------------------------------------------------------------------------

    def _add(
        self,
        batch: Batch,
        papers: dict[str, Paper],
        links: list[FoundLink],
        thing: Any,
        thread: Any,
    ) -> None:
        if not links:
            return
        author = str(getattr(thing, "author", None) or "")
        where = WEB + (thing.permalink if hasattr(thing, "permalink") else thread.permalink)
        for fl in links:
            batch.mentions.append(
                Mention(
                    paper_id=fl.paper_id,
                    source=SOURCE,
                    external_id=thing.fullname,
                    where=where,
                    seen_at=_created(thing),
                    who=f"u/{author}"
                    if author and author not in ("[deleted]", "[removed]")
                    else None,
                    context=fl.context,
                    score=getattr(thing, "score", None),
                    title_hint=fl.text,
                )
            )
            if fl.text and not fl.is_arxiv and fl.paper_id not in papers:
                papers[fl.paper_id] = Paper(
                    id=fl.paper_id, title=fl.text, url=fl.url, source=SOURCE
                )

    # ---- the API ---------------------------------------------------------------------------

    def _client(self, http: HttpClient) -> praw.Reddit:
        return praw.Reddit(
            client_id=self.spec.client_id,
            client_secret=self.spec.client_secret,
            user_agent=self.spec.user_agent,
            oauth_url=self.spec.base_url.rstrip("/"),
            reddit_url=self.spec.auth_url.rstrip("/"),
            check_for_updates=False,
            check_for_async=False,
            requestor_kwargs={"session": http.session},
        )

    def _call(self, fn: Callable[[], T], what: str) -> T:
        """Run one API step through the HTTP layer: 429s waited out, failures mapped."""
        if self._http is None:
            raise RuntimeError("_call outside collect()")
        try:
            return self._http.call(fn, what)
        except ValueError as exc:  # a body that is not JSON
            raise FetchError(
                SOURCE, f"Reddit's answer was not JSON while trying to {what}"
            ) from exc


def _listed(listing: Callable[[], Iterable[Any]]) -> list[Any]:
    return list(listing())


def _post_links(post: Any) -> list[FoundLink]:
    """A search hit: its link (titled by the post, "[R]" dropped) and links in its text."""
    text = (post.selftext or "") if post.is_self else f"{post.url}\n{post.selftext or ''}"
    own = None if post.is_self else canonical(post.url)
    title = _TAG.sub("", post.title).strip()
    return [
        FoundLink(fl.paper_id, fl.url, fl.text or title, title)
        if own and fl.paper_id == own[0]
        else fl
        for fl in find_links(text)
    ]


def search_query(pattern: str) -> str | None:
    """A Reddit search for a title pattern made of plain alternatives, e.g. `A B|C`."""
    alternatives = [a.strip() for a in pattern.split("|")]
    if not all(a and re.fullmatch(r"[\w '\-]+", a) for a in alternatives):
        return None  # a real regex: rely on the new-posts listing and filter titles ourselves
    return " OR ".join(f'title:"{a}"' for a in alternatives)


def _time_filter(days: int) -> str:
    for name, limit in (("day", 1), ("week", 7), ("month", 31), ("year", 366)):
        if days <= limit:
            return name
    return "all"


def _created(thing: Any) -> datetime:
    return datetime.fromtimestamp(float(thing.created_utc), UTC)
