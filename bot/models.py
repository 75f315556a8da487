"""What a digest is, as data: the leaf every digest and delivery module imports, importing nothing
from `bot` itself, so building, sending and the channels never import one another to name it.

`Digest` is neutral (plain text, no markup): each channel escapes for its own format.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Literal

DigestStatus = Literal[
    "sent", "already-sent", "in-progress", "nothing-new", "failed", "uncertain", "dry-run"
]


@dataclass(frozen=True, slots=True)
class MentionNote:
    """Where people talked about a paper: 'discussed on Reddit by 2 people: "..."'."""

    where: str
    people: int
    quote: str = ""
    url: str = ""

    def describe(self) -> str:
        people = f"{self.people} {'person' if self.people == 1 else 'people'}"
        quote = f': "{self.quote}"' if self.quote else ""
        return f"discussed on {self.where} by {people}{quote}"


@dataclass(frozen=True, slots=True)
class DigestItem:
    paper_id: str
    title: str
    url: str
    authors: str  # already shortened: "A, B, C et al."
    abstract: str  # already trimmed
    reasons: tuple[str, ...] = ()
    mentions: tuple[MentionNote, ...] = ()
    percentile: float | None = None
    citations: int | None = None  # the paper's citation count, when known


@dataclass(frozen=True, slots=True)
class Digest:
    """Everything a channel needs to render, and nothing it has to look up again."""

    niche: str
    day: str  # YYYY-MM-DD, local date
    basis: str  # "7 picks from 412 new cs.LG / cs.AI papers (58 on-niche), band 15-40%"
    items: tuple[DigestItem, ...] = ()
    note: str = ""  # said instead of items on a day with nothing new
    candidates: int = 0  # papers new to this digest (arrived and announced in its window)
    pool_size: int = 0
    arrived_until: str = ""  # ISO UTC: when the candidates were read; the next digest starts there

    @property
    def title(self) -> str:
        return f"midlist · {self.niche} · {self.day}"

    @property
    def paper_ids(self) -> list[str]:
        return [item.paper_id for item in self.items]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, payload: str) -> Digest:
        data = json.loads(payload)
        items = tuple(
            DigestItem(
                **{
                    **item,
                    "reasons": tuple(item["reasons"]),
                    "mentions": tuple(MentionNote(**m) for m in item["mentions"]),
                }
            )
            for item in data.pop("items")
        )
        return cls(**data, items=items)


@dataclass(slots=True)
class DigestOutcome:
    niche: str
    channel: str
    status: DigestStatus
    detail: str = ""
    digest: Digest | None = None


@dataclass(slots=True)
class DigestReport:
    outcomes: list[DigestOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(o.status not in ("failed", "uncertain") for o in self.outcomes)
