"""Glue between the store and the ranker: keep the persisted index in step, rank a niche.

The index lives in `storage.index_dir`. Each call brings it up to date with the store before
ranking: papers first seen since the index's watermark are appended as a new segment, and so
are papers updated since then (a new version, a placeholder whose abstract arrived) whose text
the index does not hold as it now is. Both cost what arrived or changed since the last update,
never the whole corpus; more than ADD_AT_MOST at once are left to a streaming cold build. Since
weights are computed from document-frequency counts at query time, the picks are those a cold
build of the same store would give. The index is built from scratch (streaming, in chunks) on
first use, by `midlist index --rebuild`, when it cannot be read, when it belongs to another
store, or when the store holds papers the watermark does not account for.

An index names its store by a hash of the URL without its password plus the store's own id
(kept in the database), so nothing secret is written beside it.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypedDict

from bot.classics import Scope
from bot.config import Niche, Settings
from bot.store import Store, redacted
from ranking import NicheProfile, Ranking, TfidfIndex, build, rank
from ranking.build import Batch, build_from
from ranking.manifest import IndexCorrupt, exists
from ranking.text import document
from sources.models import Paper

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 10
CHUNK = 5000  # papers read from the store and analysed at a time during a cold build
# More new or changed papers than this at once (a big import) are indexed by a streaming cold
# build, whose memory does not grow with them, rather than by one in-memory add.
ADD_AT_MOST = 50_000
_CLOCK_SLACK = timedelta(minutes=10)  # papers written while we read are picked up next time

Row = tuple[str, str, str, str, datetime | None]  # id, title, abstract, categories, date
Progress = Callable[[int, int], None]  # (papers indexed so far, papers in the store)


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


def store_identity(store: Store) -> str:
    """How an index names its store: no password, and two databases at one URL differ."""
    url_hash = hashlib.sha256(redacted(store.url).encode()).hexdigest()[:16]
    return f"{url_hash}:{store.store_id}"


def update_index(
    settings: Settings, store: Store, *, rebuild: bool = False, progress: Progress | None = None
) -> TfidfIndex:
    """The persisted index, brought up to date with the store (built on first use)."""
    directory = Path(settings.storage.index_dir).expanduser()
    with _locked(directory):
        started = datetime.now(UTC)
        index = None if rebuild else _load(directory, store)
        if index is None:
            return _rebuild(directory, store, started, progress)
        total = store.papers.count()
        if total < len(index):
            log.info("the store holds fewer papers than the index; rebuilding it")
            return _rebuild(directory, store, started, progress)
        watermark = datetime.fromisoformat(index.extra["watermark"])
        need = total - len(index)
        if need > ADD_AT_MOST:
            log.info("%d papers are new since the index was last updated; rebuilding it", need)
            return _rebuild(directory, store, started, progress)
        fresh: list[Row] = []
        if need:  # only then can a paper be missing: papers are never deleted
            missing: list[str] = []
            for recent in store.papers.index_ids(since=watermark):  # newest first, ids only
                held = index.rows_of(recent)
                missing += [pid for pid in recent if pid not in held]
                if len(missing) >= need:
                    break
            fresh = [r for chunk in store.papers.index_rows(ids=missing) for r in chunk]
            if len(index) + len(fresh) < total:  # committed behind the watermark (a long import)
                log.info("the store holds papers the index missed; rebuilding it")
                return _rebuild(directory, store, started, progress)
        checked, changed = _changed(
            index, store, watermark, skip={r[0] for r in fresh}, limit=ADD_AT_MOST - len(fresh)
        )
        if changed is None:
            log.info(
                "over %d papers arrived or changed since the index was last updated; rebuilding it",
                ADD_AT_MOST,
            )
            return _rebuild(directory, store, started, progress)
        if not fresh and not changed and not checked:
            return index
        if fresh or changed:
            batch = _batch(fresh + changed)
            index.add(batch.ids, batch.docs, batch.dates, batch.tags)
        _stamp(index, store, started)  # the watermark moves on past the papers just checked
        index.save(directory)
        if fresh or changed:
            log.info(
                "index: added %d papers and %d changed ones (%d in all)",
                len(fresh),
                len(changed),
                len(index),
            )
        return index


def _changed(
    index: TfidfIndex, store: Store, since: datetime, skip: set[str], limit: int
) -> tuple[int, list[Row] | None]:
    """(papers read, those among them the index holds with other text, date or categories) of
    the papers updated since `since`; None for the second when more than `limit` are read."""
    checked = 0
    changed: list[Row] = []
    for chunk in store.papers.index_rows(updated_since=since):
        rows = [r for r in chunk if r[0] not in skip]
        checked += len(rows)
        if checked > limit:  # a bulk update (a newer snapshot): a cold build reads it in chunks
            return checked, None
        if rows:
            batch = _batch(rows)
            held = index.holds(batch.ids, batch.docs, batch.dates, batch.tags)
            changed += [r for r, same in zip(rows, held.tolist(), strict=True) if not same]
    return checked, changed


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """One process at a time updates an index directory; others wait, then see its work."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    with open(directory.with_name(directory.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _load(directory: Path, store: Store) -> TfidfIndex | None:
    if not exists(directory):
        return None
    try:
        index = TfidfIndex.load(directory)
    except IndexCorrupt as exc:
        log.warning("%s; rebuilding it", exc)
        return None
    if index.extra.get("store") != store_identity(store):
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


def _rebuild(
    directory: Path, store: Store, started: datetime, progress: Progress | None
) -> TfidfIndex:
    """A cold build streamed from the store in chunks, written beside the old index, swapped in."""
    total = store.papers.count()

    def batches() -> Iterator[Batch]:
        for rows in store.papers.index_rows(chunk=CHUNK):
            yield _batch(rows)

    def report(done: int) -> None:
        if progress is not None:
            progress(done, total)

    index = build_from(batches(), directory, report)
    _stamp(index, store, started)
    index.save(directory)
    log.info("index: built from %d papers", len(index))
    return index


def _batch(rows: list[Row]) -> Batch:
    return Batch(
        ids=[r[0] for r in rows],
        docs=[f"{r[1]}\n{r[2]}" for r in rows],
        dates=[_epoch(r[4]) if r[4] else _epoch(datetime.now(UTC)) for r in rows],
        tags=[r[3].split() for r in rows],
    )


def _stamp(index: TfidfIndex, store: Store, started: datetime) -> None:
    index.extra.update(store=store_identity(store), watermark=(started - _CLOCK_SLACK).isoformat())


def _paper_date(paper: Paper) -> int:
    when = paper.published or paper.updated
    return _epoch(when) if when else _epoch(datetime.now(UTC))


def _epoch(when: datetime) -> int:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())
