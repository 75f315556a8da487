"""The `feed` channel: each digest appends its picks to an Atom feed file (feedgen).

Any feed reader can subscribe to the file (or to wherever a web server publishes it). The file
is the state: the entries already in it are read back (feedparser), the digest's picks are put
in front, the newest `max_entries` are kept, and the whole feed is written to a temporary file
and renamed. An entry's id is derived from the niche, the digest's day and the paper, so a
digest resent after a crash (written, but not yet marked sent) adds nothing twice. A lock file
beside the feed keeps two processes from writing it at once.
"""

from __future__ import annotations

import calendar
import fcntl
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import feedparser
from feedgen.feed import FeedGenerator

from bot.config import FeedChannel
from bot.deliver.files import replace_file
from bot.deliver.render import safe_url
from bot.errors import DeliveryError
from bot.models import Digest, DigestItem

_UNSAFE_NAME = re.compile(r"[^\w.-]+")


@dataclass(frozen=True, slots=True)
class Entry:
    """One feed entry, as written and as read back."""

    id: str
    title: str
    link: str
    summary: str
    updated: datetime
    author: str = ""
    category: str = ""


def feed_path(cfg: FeedChannel, niche: str) -> Path:
    """The channel's path with {niche} filled; a niche name cannot add directories."""
    safe = _UNSAFE_NAME.sub("-", niche).strip("-.") or "niche"
    return Path(cfg.path.format(niche=safe)).expanduser()


def entry_id(niche: str, day: str, paper_id: str) -> str:
    return f"urn:midlist:{quote(niche, safe='')}:{day}:{quote(paper_id, safe='')}"


def write_feed(name: str, cfg: FeedChannel, digest: Digest, now: datetime | None = None) -> Path:
    """Append the digest's picks to the niche's feed; an entry already there is not repeated."""
    path = feed_path(cfg, digest.niche)
    when = now or datetime.now(UTC)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(path):
            try:
                old = read_entries(path)
            except ValueError as exc:
                raise DeliveryError(f"channel {name}: {exc}", retryable=False) from exc
            known = {e.id for e in old}
            fresh = [_entry(digest, item, when) for item in digest.items]
            entries = [e for e in fresh if e.id not in known] + old
            text = _render(cfg, digest.niche, entries[: cfg.max_entries], when)
            replace_file(path, text, 0o644)  # a feed is meant to be read, by a web server too
    except OSError as exc:
        raise DeliveryError(f"channel {name}: cannot write {path}: {exc.strerror or exc}") from exc
    return path


def read_entries(path: Path) -> list[Entry]:
    """The entries of an existing feed, newest first as written; none when there is no file.

    A file that is there but is not a feed is never overwritten: the user may have put it there.
    """
    if not path.exists():
        return []
    raw = path.read_bytes()
    parsed: Any = feedparser.parse(raw)
    if parsed.get("version") != "atom10":
        raise ValueError(
            f"{path} exists but is not an Atom feed; move it away or point the channel's path "
            "elsewhere"
        )
    out = []
    for e in parsed.entries:
        stamp = e.get("updated_parsed") or e.get("published_parsed")
        updated = (
            datetime.fromtimestamp(calendar.timegm(stamp), UTC) if stamp else datetime.now(UTC)
        )
        tags = e.get("tags") or []
        out.append(
            Entry(
                id=e.get("id", ""),
                title=e.get("title", ""),
                link=e.get("link", ""),
                summary=e.get("summary", ""),
                updated=updated,
                author=e.get("author", ""),
                category=tags[0].get("term", "") if tags else "",
            )
        )
    return [e for e in out if e.id]


def _entry(digest: Digest, item: DigestItem, when: datetime) -> Entry:
    why = "; ".join(r for r in item.reasons if r)
    parts = [p for p in (f"Why: {why}" if why else "", item.abstract) if p]
    return Entry(
        id=entry_id(digest.niche, digest.day, item.paper_id),
        title=item.title,
        link=safe_url(item.url),
        summary="\n\n".join(parts),
        updated=when,
        author=item.authors,
        category=digest.niche,
    )


def _render(cfg: FeedChannel, niche: str, entries: list[Entry], when: datetime) -> bytes:
    fg = FeedGenerator()
    fg.id(f"urn:midlist:feed:{quote(niche, safe='')}")
    fg.title(cfg.title.format(niche=niche) if cfg.title else f"midlist · {niche}")
    fg.subtitle(f"The quirky middle of {niche}: each digest's picks, newest first")
    fg.author({"name": "midlist"})
    fg.generator("midlist")
    fg.language("en")
    fg.updated(max([when, *(e.updated for e in entries)]))
    for e in reversed(entries):  # feedgen prepends: the newest ends up first
        fe = fg.add_entry()
        fe.id(e.id)
        fe.title(e.title or e.id)
        if e.link:
            fe.link(href=e.link, rel="alternate")
        if e.summary:
            fe.summary(e.summary)
        if e.author:
            fe.author({"name": e.author})
        if e.category:
            fe.category({"term": e.category})
        fe.updated(e.updated)
    data: bytes = fg.atom_str(pretty=True)
    return data


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path.parent / f".{path.name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
