"""The `citations` collect step: Semantic Scholar counts for the papers that matter, and one
identity for papers found under two ids.

It runs after the other collectors, never over the whole store: papers in a reading queue,
papers someone mentioned, then the on-niche pools of the configured niches (best first), at
most `max_papers` a run, each at most once per `refresh_days`. A DOI or ACL paper that Semantic
Scholar says is on arXiv is merged into the arXiv paper (mentions and queue state move along),
and its old id stays as an alias, so a later sighting is folded in without asking again.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from bot.classics import Scope
from bot.config import Settings
from bot.store import Store
from bot.store.citations import UNKNOWN, Count
from sources.citations import SOURCE, CitationClient, s2_id
from sources.ids import is_arxiv_key
from sources.models import Batch

log = logging.getLogger(__name__)

NAME = "citations"


def client_for(settings: Settings) -> CitationClient:
    conf = settings.sources.citations
    return CitationClient(
        conf.base_url,
        api_key=conf.api_key.get_secret_value() if conf.api_key else None,
        timeout_seconds=conf.timeout_seconds,
        delay_seconds=conf.delay_seconds,
        retries=conf.retries,
    )


def papers_that_matter(settings: Settings, store: Store) -> list[str]:
    """Queue papers, mentioned papers, then each niche's pool, most relevant first; no repeats."""
    wanted: dict[str, None] = {}
    for item in store.queue.list():
        wanted.setdefault(item.paper.id)
    for pid, _ in sorted(store.papers.mention_counts().items(), key=lambda kv: (-kv[1], kv[0])):
        wanted.setdefault(pid)
    for pid in _pool_ids(settings, store):
        wanted.setdefault(pid)
    return list(wanted)


def _pool_ids(settings: Settings, store: Store) -> list[str]:
    if not settings.niches or store.papers.count() == 0:
        return []
    from bot.rank import profile_for, update_index
    from ranking import pool_ids

    index = update_index(settings, store)
    out: list[str] = []
    for niche in settings.niches:
        scope = Scope.of(niche).ids(store)
        out.extend(pool_ids(index, profile_for(niche, store), ids=scope))
    return out


def refresh(
    settings: Settings,
    store: Store,
    client: CitationClient | None = None,
    *,
    now: datetime | None = None,
) -> Batch:
    """Look up what is due, store the counts, merge duplicates; the notes say what happened."""
    conf = settings.sources.citations
    client = client or client_for(settings)
    batch = Batch()
    merged = _fold_aliases(store)
    ids = [pid for pid in papers_that_matter(settings, store) if s2_id(pid)]
    cutoff = (now or datetime.now(UTC)) - timedelta(days=conf.refresh_days)
    fresh = store.citations.fetched_since(ids, SOURCE, cutoff)
    due = [pid for pid in ids if pid not in fresh][: conf.max_papers]
    if not due:
        batch.notes.append(f"citations: all {_n(len(ids), 'paper')} that matter are fresh")
        return batch
    stamp = now or datetime.now(UTC)
    counted = unknown = 0
    for found in client.batches(due):  # each answer is kept before the next request
        counts = [  # unknown ones too, so they are not asked again before refresh_days
            Count(pid, SOURCE, UNKNOWN if f is None or f.citations is None else f.citations, stamp)
            for pid, f in found.items()
        ]
        with store.begin() as conn:
            store.citations.put_counts(counts, conn, touch=True)
            for pid, f in found.items():
                if f is not None and f.arxiv and not is_arxiv_key(pid):
                    if store.citations.merge(pid, f.arxiv, conn):
                        merged += 1
                        log.info("merged %s into arXiv paper %s", pid, f.arxiv)
        counted += sum(1 for c in counts if c.count != UNKNOWN)
        unknown += sum(1 for f in found.values() if f is None)
    note = f"citations: {_n(counted, 'count')} from {_n(client.requests, 'request')}"
    if unknown:
        note += f", {_n(unknown, 'paper')} unknown to Semantic Scholar"
    if merged:
        note += (
            f", {merged} merged into {'its arXiv paper' if merged == 1 else 'their arXiv papers'}"
        )
    batch.notes.append(note)
    return batch


def _fold_aliases(store: Store) -> int:
    """Papers stored again under an id already merged once (a new link to the DOI) join at once."""
    non_arxiv = [pid for pid in store.papers.mention_counts() if not is_arxiv_key(pid)]
    known = store.citations.aliases_of(non_arxiv)
    merged = 0
    with store.begin() as conn:
        for alias, target in known.items():
            merged += store.citations.merge(alias, target, conn)
    return merged


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")
