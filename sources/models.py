"""What every collector hands to the store: papers and the mentions that point at them.

Frozen dataclasses, so a collector cannot change a paper after handing it over and the
ranker (which may import only this module) sees the same values the store wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sources.ids import is_arxiv_key
from sources.sanitize import clean_optional, clean_text, is_clean


@dataclass(frozen=True, slots=True)
class Paper:
    """One paper, keyed as DESIGN.md says: version-less arXiv id, else a canonical id."""

    id: str
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # primary category first when known
    url: str = ""
    published: datetime | None = None  # first version
    updated: datetime | None = None  # latest version seen
    announced: datetime | None = None  # when arXiv announced it (OAI datestamp, listing day)
    version: int | None = None  # arXiv version number; None when unknown or not on arXiv
    doi: str | None = None
    comment: str | None = None
    source: str = ""  # which collector first produced this record

    def __post_init__(self) -> None:
        lines = (self.id, self.title, self.url, self.source, self.doi or "", self.comment or "")
        if is_clean((*lines, *self.authors, *self.categories), (self.abstract,)):
            return
        _clean(self, ("id", "title", "url", "source"), multiline=False)
        _clean(self, ("abstract",), multiline=True)
        _clean(self, ("doi", "comment"), multiline=False, optional=True)
        for name in ("authors", "categories"):
            values = getattr(self, name)
            cleaned = tuple(clean_text(v, multiline=False) for v in values)
            if cleaned != values:
                object.__setattr__(self, name, cleaned)

    @property
    def is_arxiv(self) -> bool:
        return is_arxiv_key(self.id)


@dataclass(frozen=True, slots=True)
class Mention:
    """One sighting of a paper somewhere: a comment, a feed item, a listing."""

    paper_id: str
    source: str  # "arxiv", "reddit", "feed:<name>"
    external_id: (
        str  # stable per sighting (comment id, feed entry id) so re-collecting adds nothing
    )
    where: str = ""  # thread or feed URL
    seen_at: datetime | None = None
    who: str | None = None
    context: str = ""  # the surrounding words, trimmed
    score: int | None = None
    title_hint: str | None = None  # link text, for non-arXiv papers we cannot look up

    def __post_init__(self) -> None:
        lines = (self.paper_id, self.source, self.external_id, self.where)
        if is_clean((*lines, self.who or "", self.title_hint or ""), (self.context,)):
            return
        _clean(self, ("paper_id", "source", "external_id", "where"), multiline=False)
        _clean(self, ("context",), multiline=True)
        _clean(self, ("who", "title_hint"), multiline=False, optional=True)


def _clean(obj: object, names: tuple[str, ...], *, multiline: bool, optional: bool = False) -> None:
    """Sanitise text fields of a frozen dataclass in place (only when something changes)."""
    for name in names:
        value = getattr(obj, name)
        cleaned = (
            clean_optional(value, multiline=multiline)
            if optional
            else clean_text(value, multiline=multiline)
        )
        if cleaned is not value and cleaned != value:
            object.__setattr__(obj, name, cleaned)


@dataclass(slots=True)
class Batch:
    """What one collector run produced, plus the state it wants kept for next time."""

    papers: list[Paper] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    state: dict[str, str] = field(default_factory=dict)  # cursors, ETags: opaque to the store
    notes: list[str] = field(default_factory=list)  # things the user should read in the report
