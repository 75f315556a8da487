"""`midlist tune`: what the ranker saw for a niche, and what to try next.

`build_report` asks the ranker what it saw (`ranking.explain`) and joins it with the stored
papers; `suggestions` turns the figures into what to try next; `summary` is the short text the
command prints. `bot.tune_page` draws the report as one self-contained HTML page.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np

from bot.config import Settings
from bot.deliver.render import safe_url
from bot.rank import update_index
from bot.store import Store
from ranking.explain import ExclusionEffect, Explanation, KeywordEffect, explain
from ranking.models import NicheProfile
from sources.ids import paper_url

log = logging.getLogger(__name__)

LIST_LENGTH = 5  # papers in "just above the band" and "the fringe"
DOMINANT = 0.4  # share of the pool one keyword may bring in alone before we say so
BROAD_POOL = 2000
RARE = 0.05  # a keyword used by at most this share of the pool, never alone, barely counts
Zone = Literal["above", "band", "below"]


@dataclass(frozen=True, slots=True)
class Row:
    """One pool paper as the page shows it."""

    position: int
    percentile: float
    paper_id: str
    title: str
    url: str
    relevance: float
    mentions: int
    keywords: tuple[str, ...]
    zone: Zone
    picked: bool


@dataclass(frozen=True, slots=True)
class Report:
    niche: str
    keywords: tuple[str, ...]
    band: str  # "15-40%" or "top"
    size: int
    papers: int  # papers the ranker looked at
    explanation: Explanation
    rows: tuple[Row, ...]
    seed_added: tuple[Row, ...]
    suggestions: tuple[str, ...]
    seconds: float
    made: str  # when, for the page's footer

    @property
    def above(self) -> tuple[Row, ...]:
        start = self.explanation.band.start
        return self.rows[max(0, start - LIST_LENGTH) : start]

    @property
    def picks(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.picked)

    @property
    def fringe(self) -> tuple[Row, ...]:
        stop = self.explanation.band.stop
        return self.rows[stop : stop + LIST_LENGTH]

    @property
    def band_span(self) -> str:
        band = self.explanation.band
        if not len(band):
            return "no position"
        return f"positions {band.start + 1}-{band.stop} ({len(band)} papers)"


def build_report(
    settings: Settings,
    store: Store,
    profile: NicheProfile,
    *,
    size: int,
    since: datetime | None = None,
    exclude_ids: tuple[str, ...] = (),
) -> Report:
    """Explain the niche over the stored papers (those since `since`), as a digest ranks them:
    `exclude_ids` (papers already delivered or dealt with) stay in the pool but are not picked."""
    started = time.perf_counter()
    index = update_index(settings, store)
    rows = None if since is None else index.rows_since(int(since.timestamp()))
    exp = explain(
        index,
        profile,
        limit=size,
        mentions=store.papers.mention_counts(),
        rows=rows,
        exclude_ids=exclude_ids,
    )
    papers = store.papers.get_many(list(exp.ids))
    picked = set(exp.pick_positions)
    out = []
    for p, paper_id in enumerate(exp.ids):
        paper = papers.get(paper_id)
        zone: Zone = "band" if p in exp.band else "above" if p < exp.band.start else "below"
        out.append(
            Row(
                position=p,
                percentile=round(exp.percentile(p), 1),
                paper_id=paper_id,
                title=" ".join((paper.title if paper else paper_id).split()),
                url=safe_url(paper.url if paper and paper.url else paper_url(paper_id)),
                relevance=round(float(exp.relevance[p]), 4),
                mentions=int(exp.mentions[p]),
                keywords=tuple(k for j, k in enumerate(profile.keywords) if exp.uses[p, j]),
                zone=zone,
                picked=p in picked,
            )
        )
    at = {r.paper_id: r for r in out}
    band = "top" if profile.band is None else f"{profile.band[0]}-{profile.band[1]}%"
    return Report(
        niche=profile.name,
        keywords=profile.keywords,
        band=band,
        size=size,
        papers=len(index) if rows is None else len(rows),
        explanation=exp,
        rows=tuple(out),
        seed_added=tuple(at[i] for i in exp.seeds.added),
        suggestions=suggestions(exp, profile, size),
        seconds=time.perf_counter() - started,
        made=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def suggestions(exp: Explanation, profile: NicheProfile, size: int) -> tuple[str, ...]:
    """What to change, from the figures alone; the most pressing first."""
    tips: list[str] = []
    n = exp.size
    for k in exp.keywords:
        if not k.known:
            tips.append(
                f'No paper uses "{k.phrase}": check its spelling against the abstracts, '
                "shorten it, or drop it."
            )
        elif k.candidates == 0:
            tips.append(f'No paper in this period uses "{k.phrase}": widen --since or drop it.')
    if n == 0:
        tips.append("The pool is empty: use fewer or broader keywords, or import more papers.")
    elif n < size:
        tips.append(
            f"The pool holds only {n} papers for a digest of {size}: add keywords or seeds, "
            "or import more history."
        )
    elif profile.band is not None and len(exp.band) < size:
        lo, hi = profile.band
        tips.append(
            f"The band {lo}-{hi}% holds {len(exp.band)} of the {n} pool papers, fewer than the "
            f"{size} a digest sends: widen it (e.g. [{max(0, lo - 10)}, {min(100, hi + 15)}]) "
            "or add keywords."
        )
    if n > BROAD_POOL:
        tips.append(
            f"The pool holds {n:,} papers, a broad niche: use more specific phrases or exclude a "
            "word that brings in a neighbouring field."
        )
    if len(exp.keywords) > 1 and n:
        top = max(exp.keywords, key=lambda k: k.alone)
        if top.alone > DOMINANT * n:
            tips.append(
                f'"{top.phrase}" alone brings in {top.alone} of the {n} pool papers '
                f"({100 * top.alone / n:.0f}%): make it more specific (a longer phrase) or "
                "exclude what it drags in."
            )
    for k in exp.keywords:
        if k.known and n and 0 < k.candidates and k.pool <= max(1, RARE * n) and k.alone == 0:
            tips.append(
                f'"{k.phrase}" is used by only {k.pool} of the {n} pool papers, none of them '
                "alone: it barely shapes the niche; try the wording abstracts use, or drop it."
            )
    if profile.band is not None and len(exp.band):
        for j, k in enumerate(exp.keywords):
            if k.pool >= max(size, 5) and k.picks == 0:
                middle = float(np.median(np.flatnonzero(exp.uses[:, j]))) * 100 / n
                side = "above" if middle < profile.band[0] else "below"
                if profile.band[0] <= middle < profile.band[1]:
                    continue  # in the band, just not picked this time
                tips.append(
                    f'"{k.phrase}" brings in {k.pool} pool papers but none of the picks: they sit '
                    f"mostly {side} the band (median percentile {middle:.0f}). "
                    + (
                        "Start the band lower if you want them."
                        if side == "above"
                        else "Give the keyword more weight with a seed paper about it."
                    )
                )
    for e in exp.exclusions:
        if not e.known:
            tips.append(f'The exclusion "{e.phrase}" matches no paper: check its spelling.')
        elif e.removed == 0:
            tips.append(f'The exclusion "{e.phrase}" removes nothing from this niche: drop it.')
    for seed in exp.seeds.missing:
        tips.append(
            f"Seed {seed} is not in the store: import or collect it, or it cannot pull in "
            "papers like it."
        )
    return tuple(tips)


def summary(report: Report) -> str:
    """The few lines `midlist tune` prints."""
    exp = report.explanation
    lines = [
        f"{report.niche}: {exp.size:,}-paper pool from {exp.candidates:,} candidates among "
        f"{report.papers:,} papers; band {report.band} = {report.band_span}; "
        + _count(len(exp.picks), "pick"),
        "keywords: " + "; ".join(_keyword_line(k) for k in exp.keywords),
    ]
    if exp.exclusions:
        lines.append("exclusions: " + "; ".join(_exclusion_line(e) for e in exp.exclusions))
    if exp.seeds.seeds or exp.seeds.missing:
        lines.append(
            f"seeds: {len(exp.seeds.seeds)} found, {len(exp.seeds.missing)} missing; "
            f"they add {len(exp.seeds.added)} pool papers no keyword brings in"
        )
    if report.suggestions:
        lines.append("try next:")
        lines += [f"  - {tip}" for tip in report.suggestions]
    else:
        lines.append("try next: nothing stands out; look at the lists on the page")
    return "\n".join(lines)


def _keyword_line(k: KeywordEffect) -> str:
    if not k.known:
        return f'"{k.phrase}" unused'
    return f'"{k.phrase}" {k.pool} in pool ({k.alone} alone), {_count(k.picks, "pick")}'


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _exclusion_line(e: ExclusionEffect) -> str:
    return f'"{e.phrase}" removed {e.removed} ({e.removed_from_pool} from the pool)'


def done_with(store: Store, niche: str, channels: list[str]) -> tuple[str, ...]:
    """Papers a digest of the niche would not pick again: delivered to one of its channels, or
    already saved, read or skipped in its queue."""
    done = {p for p, state in store.queue.states(niche).items() if state != "queued"}
    for channel in channels:
        done |= store.digests.delivered_ids(channel)
    return tuple(sorted(done))
