"""One collect run: every configured collector, each written in its own transaction.

A source's papers, mentions and new cursor land together or not at all, so a collect killed
half-way leaves the store as the last finished source left it. A source that fails is
logged in the run table with its reason and the others carry on. Then arXiv ids that other
sources only linked to (placeholders) are filled in through the arXiv API, and last citation
counts are refreshed for the papers that matter (`bot.citations`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from pydantic import BaseModel, SecretStr

from bot.config import Feed, RedditSource, Settings
from bot.errors import ConfigError
from bot.store import Store
from sources.arxiv import ArxivCollector
from sources.base import Collector
from sources.errors import SourceError
from sources.models import Batch

S = TypeVar("S")

logger = logging.getLogger(__name__)

LOOKUP = "arxiv-lookup"
CITATIONS = "citations"
_MISSING_SHOWN = 5  # unknown ids named in a note; the rest are counted


@dataclass(slots=True)
class SourceResult:
    name: str
    ok: bool
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    mentions: int = 0
    error: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class CollectReport:
    sources: list[SourceResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.sources)


def arxiv_collector(settings: Settings) -> ArxivCollector:
    """The arXiv collector as configured: collect, placeholder look-ups and `query --live`."""
    conf = settings.sources.arxiv
    return ArxivCollector(
        api_url=conf.api_url,
        oai_url=conf.oai_url,
        categories=conf.categories,
        queries=conf.queries,
        delay_seconds=conf.delay_seconds,
        timeout_seconds=conf.timeout_seconds,
        page_size=conf.page_size,
        max_results=conf.max_results,
        retries=conf.retries,
        max_bytes=conf.max_bytes,
    )


def reddit_collector(conf: RedditSource) -> Collector:
    from sources.reddit import RedditCollector, RedditSpec

    if not (conf.client_id and conf.client_secret):
        raise ConfigError("sources.reddit: client_id and client_secret must both be set")
    return RedditCollector(spec_from(RedditSpec, conf))


def feed_collector(conf: Feed) -> Collector:
    from sources.feeds import FeedCollector, FeedSpec

    return FeedCollector(spec_from(FeedSpec, conf))


def spec_from(spec: type[S], conf: BaseModel) -> S:
    """A collector's spec from its config model: the fields they share, by name.

    Secrets are unwrapped and lists become tuples, since specs are plain frozen dataclasses;
    a spec field the config does not set keeps the spec's default."""
    values: dict[str, Any] = {}
    for name in (f.name for f in dataclasses.fields(spec)):  # type: ignore[arg-type]
        if name not in type(conf).model_fields:
            continue
        value = getattr(conf, name)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        values[name] = tuple(value) if isinstance(value, list) else value
    return spec(**values)


def build_collectors(settings: Settings) -> list[Collector]:
    """The collectors the config turns on, in the order they run: the one place they are built."""
    collectors: list[Collector] = []
    arxiv = settings.sources.arxiv
    if arxiv.enabled and (arxiv.categories or arxiv.queries):
        collectors.append(arxiv_collector(settings))
    reddit = settings.sources.reddit
    if reddit.enabled and reddit.client_id and reddit.client_secret:
        collectors.append(reddit_collector(reddit))
    collectors.extend(feed_collector(feed) for feed in settings.sources.feeds)
    return collectors


def source_names(settings: Settings, collectors: list[Collector] | None = None) -> list[str]:
    names = [c.name for c in (collectors if collectors is not None else build_collectors(settings))]
    if settings.sources.arxiv.enabled:
        names.append(LOOKUP)
    if settings.sources.citations.enabled:
        names.append(CITATIONS)
    return names


def collect_all(
    settings: Settings,
    store: Store,
    only: list[str] | None = None,
    *,
    collectors: list[Collector] | None = None,
) -> CollectReport:
    """Run the collectors once (all, or those named in `only`), then fill placeholders.

    `collectors` defaults to build_collectors(settings); passing them in is for embedding.
    """
    if collectors is None:
        collectors = build_collectors(settings)
    known = source_names(settings, collectors)
    unknown = [name for name in only or [] if name not in known]
    if unknown:
        raise ConfigError(
            f"no configured source named {', '.join(map(repr, unknown))} "
            f"(configured: {', '.join(known) or 'none; enable one under sources:'})"
        )
    wanted = set(only or known)
    report = CollectReport()
    for collector in collectors:
        if collector.name in wanted:
            state = store.state.get(collector.name)
            report.sources.append(_run(store, collector.name, partial(collector.collect, state)))
    if LOOKUP in wanted:
        arxiv = next((c for c in collectors if isinstance(c, ArxivCollector)), None)
        looker = arxiv or arxiv_collector(settings)
        report.sources.append(_run(store, LOOKUP, lambda: _fill_placeholders(looker, store)))
    if CITATIONS in wanted:
        from bot.citations import refresh

        report.sources.append(_run(store, CITATIONS, lambda: refresh(settings, store)))
    return report


def _run(store: Store, name: str, produce: Callable[[], Batch]) -> SourceResult:
    run_id = store.state.start_run("collect", name)
    try:
        batch = produce()
        with store.begin() as conn:
            counts = store.papers.upsert(batch.papers, conn)
            mentions = store.papers.add_mentions(batch.mentions, conn)
            store.state.put(name, batch.state, conn)
    except SourceError as exc:
        logger.warning("collect %s failed: %s", name, exc.reason)
        store.state.finish_run(run_id, False, exc.reason)
        return SourceResult(name, ok=False, error=exc.reason)
    except Exception as exc:  # a bug or an unmapped library error in one source stops only it
        logger.exception("collect %s failed unexpectedly", name)
        reason = f"{type(exc).__name__}: {exc}"
        store.state.finish_run(run_id, False, reason)
        return SourceResult(name, ok=False, error=reason)
    result = SourceResult(
        name,
        ok=True,
        new=counts.new,
        updated=counts.updated,
        unchanged=counts.unchanged,
        mentions=mentions,
        notes=batch.notes,
    )
    detail = f"{counts.new} new, {counts.updated} updated, {counts.unchanged} unchanged, {mentions} mentions"
    store.state.finish_run(run_id, True, "; ".join([detail, *batch.notes]))
    return result


def _fill_placeholders(arxiv: ArxivCollector, store: Store) -> Batch:
    ids = store.papers.placeholders()
    batch = Batch()
    if not ids:
        return batch
    batch.papers = arxiv.lookup(ids)
    missing = sorted(set(ids) - {p.id for p in batch.papers})
    if missing:
        shown = ", ".join(missing[:_MISSING_SHOWN])
        more = f" and {len(missing) - _MISSING_SHOWN} more" if len(missing) > _MISSING_SHOWN else ""
        batch.notes.append(f"arXiv does not know {shown}{more}; kept as links")
    return batch
