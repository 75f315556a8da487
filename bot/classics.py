"""Which papers a niche ranks when it names venues and years: `venues: [neurips]`,
`years: [1987, 1997]`, and how that scope reads in a reason ("NeurIPS 1987-1997")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sources.proceedings import venue_key, venue_name

if TYPE_CHECKING:
    from bot.config import Niche
    from bot.store import Store


@dataclass(frozen=True, slots=True)
class Scope:
    venues: tuple[str, ...] = ()  # venue keys; empty: any venue, and papers listed nowhere
    years: tuple[int, int] | None = None  # inclusive

    @classmethod
    def of(cls, niche: Niche) -> Scope:
        return cls(tuple(niche.venues), niche.years)

    @classmethod
    def parse(cls, venues: tuple[str, ...] | list[str], years: tuple[int, int] | None) -> Scope:
        return cls(tuple(dict.fromkeys(venue_key(v) for v in venues if venue_key(v))), years)

    def __bool__(self) -> bool:
        return bool(self.venues or self.years)

    def label(self) -> str:
        """ "NeurIPS 1987-1997", "NeurIPS/ICML", "1995": what the ranked papers are."""
        parts = []
        if self.venues:
            parts.append("/".join(venue_name(v) for v in self.venues))
        if self.years:
            first, last = self.years
            parts.append(str(first) if first == last else f"{first}-{last}")
        return " ".join(parts)

    def ids(self, store: Store) -> set[str] | None:
        """The papers in scope (None: no restriction). Years alone also take papers listed
        nowhere but published then (arXiv papers)."""
        if not self:
            return None
        ids = store.citations.listed_ids(self.venues, self.years)
        if self.years and not self.venues:
            ids |= store.citations.published_ids(self.years)
        return ids

    def unknown_venues(self, store: Store) -> list[str]:
        known = store.citations.venues()
        return [v for v in self.venues if v not in known]
