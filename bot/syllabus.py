"""A niche's syllabus: `size` papers from its band over the whole store, ordered for reading.

The band is the niche's own (its `band`, `order`, `venues`, `years`), taken over every stored
paper rather than the papers new since the last digest; near-duplicates are skipped as in a
digest. Only papers inside the band count: when it holds fewer than `size`, SyllabusError says
how many it holds and what to widen, instead of padding with papers from outside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.classics import Scope
from bot.config import Niche, Settings
from bot.errors import MidlistError
from bot.rank import profile_for, rank_niche
from bot.store import Store
from ranking import NicheProfile, Pick
from ranking.band import band_positions
from sources.models import Paper
from sources.proceedings import Listing

READING_ORDERS = ("year", "citations", "relevance")


class SyllabusError(MidlistError):
    """The band cannot fill the syllabus."""


@dataclass(frozen=True, slots=True)
class Entry:
    pick: Pick
    paper: Paper
    listing: Listing | None

    @property
    def year(self) -> int | None:
        if self.listing is not None:
            return self.listing.year
        return self.paper.published.year if self.paper.published else None


@dataclass(frozen=True, slots=True)
class Syllabus:
    niche: str
    entries: tuple[Entry, ...]
    pool_size: int
    band: tuple[int, int] | None
    order: str
    scope: str


def build(
    settings: Settings,
    store: Store,
    niche: Niche,
    *,
    size: int = 100,
    band: tuple[int, int] | None | Literal["niche"] = "niche",
    reading_order: str = "year",
) -> Syllabus:
    """The syllabus, or SyllabusError when the band holds fewer than `size` papers."""
    if reading_order not in READING_ORDERS:
        raise SyllabusError(
            f"unknown reading order {reading_order!r}; use one of {', '.join(READING_ORDERS)}"
        )
    base = profile_for(niche, store)
    chosen_band = base.band if band == "niche" else band
    profile = NicheProfile(
        base.name,
        base.keywords,
        base.exclude,
        base.seeds,
        chosen_band,
        base.saved,
        base.skipped,
    )
    scope = Scope.of(niche)
    ranking, papers = rank_niche(
        settings,
        store,
        profile,
        limit=size,
        exclude_ids=base.skipped,
        order=niche.order,
        scope=scope,
    )
    inside = [p for p in ranking.picks if _in_band(p, profile.band, ranking.pool_size)]
    if len(inside) < size:
        raise SyllabusError(
            _too_few(niche, profile.band, scope, ranking.pool_size, len(inside), size)
        )
    listings = store.citations.listings_of([p.paper_id for p in inside])
    entries = [Entry(p, papers[p.paper_id], listings.get(p.paper_id)) for p in inside]
    entries.sort(key=_reading_key(reading_order))
    return Syllabus(
        niche.name, tuple(entries), ranking.pool_size, profile.band, niche.order, scope.label()
    )


def _in_band(pick: Pick, band: tuple[int, int] | None, pool_size: int) -> bool:
    if band is None:
        return True
    positions = band_positions(pool_size, band)
    if not positions:
        return False
    first = round(100.0 * positions.start / pool_size, 1)  # rounded as Pick.percentile is
    last = round(100.0 * (positions.stop - 1) / pool_size, 1)
    return first <= pick.percentile <= last


def _reading_key(order: str):  # type: ignore[no-untyped-def]
    if order == "citations":
        return lambda e: (-(e.pick.citations or -1), e.paper.id)
    if order == "relevance":
        return lambda e: (-e.pick.score, e.paper.id)
    return lambda e: (e.year or 9999, e.paper.title.lower(), e.paper.id)


def _too_few(
    niche: Niche,
    band: tuple[int, int] | None,
    scope: Scope,
    pool_size: int,
    found: int,
    size: int,
) -> str:
    where = f" ({scope.label()})" if scope else ""
    span = "its whole" if band is None else f"the {band[0]}-{band[1]}% band of its"
    tips = []
    needed = -(-100 * size // max(pool_size, 1)) + 1  # percent of the pool, with room for dupes
    if band is not None and needed <= 100:
        lo, hi = band
        start = max(0, lo - max(0, needed - (hi - lo)) // 2)
        stop = min(100, start + max(needed, hi - lo))
        start = max(0, stop - max(needed, hi - lo))
        tips.append(f"widen the band (--band {start}-{stop}, or `band:` in the niche)")
    if scope:
        tips.append(f"widen the niche's venues/years (now {scope.label()})")
    tips.append("add keywords or seeds to grow the pool")
    tips.append(f"or ask for fewer papers (--size {max(found, 1)})")
    return (
        f"niche {niche.name!r}: {span} {pool_size}-paper pool{where} holds {found} distinct "
        f"papers, fewer than --size {size}: " + "; ".join(tips)
    )
