"""Building a digest: a ranking and the papers it names -> a neutral `Digest` (plain text, no markup)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from bot.config import Niche
from bot.models import Digest, DigestItem, MentionNote
from ranking.models import Ranking
from sources.ids import paper_url
from sources.models import Mention, Paper

AUTHORS_SHOWN = 3
ABSTRACT_CHARS = 420
TITLE_CHARS = 300
QUOTE_CHARS = 160


def build_digest(
    niche: Niche,
    day: date,
    ranking: Ranking,
    papers: dict[str, Paper],
    mentions: dict[str, list[Mention]] | None = None,
    *,
    categories: Sequence[str] = (),
    arrived_until: str = "",
) -> Digest:
    """A digest from a ranking of the papers new to it: the first `niche.size` picks the papers
    dict can describe. A day without picks says why in one line: nothing arrived, nothing
    matched the niche, or the channel has had every match."""
    mentions = mentions or {}
    items = tuple(
        _item(
            papers[pick.paper_id],
            pick.reasons,
            pick.percentile,
            mentions.get(pick.paper_id, []),
            citations=pick.citations,
        )
        for pick in ranking.picks
        if pick.paper_id in papers
    )[: niche.size]
    band = "top picks" if niche.band == "top" else f"band {niche.band[0]}-{niche.band[1]}%"
    papers_word = " ".join(["new", *([" / ".join(categories)] if categories else []), "papers"])
    n, arrived = len(items), ranking.candidates
    basis = (
        f"{n} pick{'' if n == 1 else 's'} from {arrived:,} {papers_word} "
        f"({ranking.pool_size:,} on-niche), {band}"
    )
    note = ""
    if arrived == 0:
        note = (
            "Nothing new today: no papers arrived since the last digest. arXiv announces nothing "
            "on Friday and Saturday nights and on holidays, so this is expected then."
        )
    elif ranking.pool_size == 0:
        note = f"No picks today: {arrived:,} {papers_word} arrived, but none matched this niche."
    elif not items:
        note = (
            f"No picks today: {arrived:,} {papers_word} arrived and {ranking.pool_size:,} "
            "matched this niche, but this channel has had them all."
        )
    return Digest(
        niche=niche.name,
        day=day.isoformat(),
        basis=basis,
        items=items,
        note=note,
        candidates=arrived,
        pool_size=ranking.pool_size,
        arrived_until=arrived_until,
    )


def _item(
    paper: Paper,
    reasons: Sequence[str],
    percentile: float,
    found: list[Mention],
    *,
    citations: int | None = None,
) -> DigestItem:
    return DigestItem(
        paper_id=paper.id,
        title=clip(paper.title, TITLE_CHARS) or paper.id,
        url=paper.url or paper_url(paper.id),
        authors=short_authors(paper.authors),
        abstract=clip(paper.abstract, ABSTRACT_CHARS),
        reasons=tuple(clip(r, 200) for r in reasons),
        mentions=mention_notes(found),
        percentile=percentile,
        citations=citations,
    )


def short_authors(authors: Sequence[str]) -> str:
    names = [a.strip() for a in authors if a.strip()]
    if len(names) <= AUTHORS_SHOWN:
        return ", ".join(names)
    return ", ".join(names[:AUTHORS_SHOWN]) + f" et al. ({len(names)} authors)"


def clip(text: str, limit: int) -> str:
    """Whitespace collapsed and cut at a word boundary, with an ellipsis when cut."""
    text = re.sub(r"\s+", " ", text or "").strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:.") + "…"


def mention_notes(found: Sequence[Mention]) -> tuple[MentionNote, ...]:
    """One note per place (Reddit, a blog feed), counting distinct people; arXiv listings are not talk."""
    by_place: dict[str, list[Mention]] = {}
    for m in found:
        if m.source == "arxiv":
            continue
        by_place.setdefault(_place(m.source), []).append(m)
    notes = []
    for place, ms in by_place.items():
        people = len({m.who or f"{m.source}:{m.external_id}" for m in ms})
        quoted = next((m for m in ms if m.context.strip()), None)
        notes.append(
            MentionNote(
                where=place,
                people=people,
                quote=clip(quoted.context, QUOTE_CHARS) if quoted else "",
                url=(quoted or ms[0]).where,
            )
        )
    return tuple(notes)


def _place(source: str) -> str:
    if source == "reddit":
        return "Reddit"
    if source.startswith("feed:"):
        return source[5:]
    return source
