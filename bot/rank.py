"""Glue between the store and the ranker: keep the persisted index in step, rank a niche.

The index lives in `storage.index_dir`. Each call brings it up to date with the store before
ranking: when the store holds more papers than the index, those first seen (or published) since
the index's watermark are transformed with the stored vocabulary and appended; papers that were only placeholders (a link seen, metadata not
yet looked up) are re-indexed once their abstract arrives. When the corpus has grown by half
since the vocabulary was fitted (`ranking.index.REFIT_GROWTH`), the papers since the watermark do
not account for the store's count, or the index belongs to another database or cannot be read,
it is rebuilt from every stored paper. A new version of a paper
already indexed keeps its old vector until the next rebuild: versions rarely change a topic.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypedDict

from bot.classics import Scope
from bot.config import Niche, Settings
from bot.store import Store
from ranking import NicheProfile, Ranking, TfidfIndex, build, rank
from ranking.index import IndexError_, exists
from ranking.text import document
from sources.models import Paper

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 10
_CLOCK_SLACK = timedelta(minutes=10)  # papers written while we read are picked up next time


def profile_for(niche: Niche, store: Store) -> NicheProfile:
    """A configured niche plus its feedback: saved and read count as saved, skipped as skipped."""
    states = store.queue.states(niche.name)
    return NicheProfile(
        name=niche.name,
        keywords=tuple(niche.keywords),
        exclude=tuple(niche.exclude),
        seeds=tuple(niche.seeds),
        band=None if niche.band == "top" else (int(niche.band[0]), int(niche.band[1])),
        saved=tuple(sorted(p for p, s in states.items() if s in ("saved", "read"))),
        skipped=tuple(sorted(p for p, s in states.items() if s == "skipped")),
    )


def rank_niche(
    settings: Settings,
    store: Store,
    profile: NicheProfile,
    *,
    since: datetime | None = None,
    limit: int | None = None,
    exclude_ids: Collection[str] = (),
    ids: Collection[str] | None = None,
    order: str = "relevance",
    scope: Scope | None = None,
) -> tuple[Ranking, dict[str, Paper]]:
    """Rank the stored papers for a niche; the Paper objects of the picks come along.

    Only papers among `ids` (when given) and in `scope` (venues, years) are ranked; `order`
    orders the pool (relevance, citations, mentions)."""
    index = update_index(settings, store)
    scope = scope or Scope()
    allowed = scope.ids(store)
    if ids is not None:
        allowed = set(ids) if allowed is None else allowed & set(ids)
    ranking = rank(
        index,
        profile,
        limit=limit or DEFAULT_LIMIT,
        mentions=store.papers.mention_counts(),
        since=_epoch(since) if since else None,
        exclude_ids=exclude_ids,
        ids=allowed,
        order=order,
        popularity=store.citations.popularity(),
        scope=scope.label(),
    )
    return ranking, store.papers.get_many([p.paper_id for p in ranking.picks])


class NicheOptions(TypedDict):
    order: str
    scope: Scope


def niche_options(niche: Niche) -> NicheOptions:
    """The niche's `order` and venue/year scope, as keyword arguments of rank_niche."""
    return {"order": niche.order, "scope": Scope.of(niche)}


def rank_papers(
    papers: Iterable[Paper], profile: NicheProfile, *, limit: int | None = None
) -> tuple[Ranking, dict[str, Paper]]:
    """Rank papers held in memory (a live arXiv search) with the same ranker; nothing is stored."""
    by_id = {p.id: p for p in papers}
    ids = list(by_id)
    index = build(
        ids,
        [document(by_id[i]) for i in ids],
        [_paper_date(by_id[i]) for i in ids],
        [by_id[i].categories for i in ids],
    )
    ranking = rank(index, profile, limit=limit or DEFAULT_LIMIT)
    return ranking, {p.paper_id: by_id[p.paper_id] for p in ranking.picks}


def update_index(settings: Settings, store: Store) -> TfidfIndex:
    """The persisted index, brought up to date with the store (built on first use)."""
    directory = Path(settings.storage.index_dir).expanduser()
    started = datetime.now(UTC)
    index = _load(directory, store)
    if index is None or index.needs_refit():
        return _rebuild(directory, store, started)
    placeholders = set(index.extra.get("placeholders", "").split())
    filled = [p for p in store.papers.get_many(sorted(placeholders)).values() if p.abstract]
    total = store.papers.count()
    if total < len(index):
        log.info("the store holds fewer papers than the index; rebuilding it")
        return _rebuild(directory, store, started)
    fresh = []
    if total > len(index):  # only then can anything be new: papers are never deleted
        watermark = datetime.fromisoformat(index.extra["watermark"])
        fresh = [p for p in store.papers.iter_all(since=watermark) if p.id not in index.row_of]
        if len(index) + len(fresh) < total:  # committed behind the watermark (a long import)
            log.info("the store holds papers the index missed; rebuilding it")
            return _rebuild(directory, store, started)
    if not fresh and not filled:
        return index
    added = fresh + filled
    index.add(
        [p.id for p in added],
        [document(p) for p in added],
        [_paper_date(p) for p in added],
        [p.categories for p in added],
    )
    if index.needs_refit():
        return _rebuild(directory, store, started)
    _stamp(index, store, started, placeholders=placeholders - {p.id for p in filled}, papers=added)
    index.save(directory)
    log.info("index: added %d papers (%d rows)", len(added), len(index))
    return index


def _load(directory: Path, store: Store) -> TfidfIndex | None:
    if not exists(directory):
        return None
    try:
        index = TfidfIndex.load(directory)
    except IndexError_ as exc:
        log.warning("%s; rebuilding it", exc)
        return None
    if index.extra.get("store") != store.url:
        log.info("index at %s belongs to another database; rebuilding it", directory)
        return None
    try:
        watermark = datetime.fromisoformat(index.extra["watermark"])
    except (KeyError, TypeError, ValueError):
        log.warning("index at %s has no readable watermark; rebuilding it", directory)
        return None
    merged = store.citations.last_merge()
    if merged is not None and merged > watermark:  # merged duplicates left the store
        log.info("papers were merged into their arXiv ids since the index was built; rebuilding it")
        return None
    return index


def _rebuild(directory: Path, store: Store, started: datetime) -> TfidfIndex:
    ids: list[str] = []
    docs: list[str] = []
    dates: list[int] = []
    tags: list[tuple[str, ...]] = []
    waiting: list[Paper] = []
    for paper in store.papers.iter_all():  # columns only: Paper objects are not kept
        ids.append(paper.id)
        docs.append(document(paper))
        dates.append(_paper_date(paper))
        tags.append(paper.categories)
        if not paper.abstract:
            waiting.append(paper)
    index = build(ids, docs, dates, tags)
    del docs
    _stamp(index, store, started, placeholders=set(), papers=waiting)
    index.save(directory)
    log.info("index: built from %d papers", len(index))
    return index


def _stamp(
    index: TfidfIndex,
    store: Store,
    started: datetime,
    *,
    placeholders: set[str],
    papers: list[Paper],
) -> None:
    waiting = placeholders | {p.id for p in papers if not p.abstract}
    index.extra.update(
        store=store.url,
        watermark=(started - _CLOCK_SLACK).isoformat(),
        placeholders=" ".join(sorted(waiting)),
    )


def _paper_date(paper: Paper) -> int:
    when = paper.published or paper.updated
    return _epoch(when) if when else _epoch(datetime.now(UTC))


def _epoch(when: datetime) -> int:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())
