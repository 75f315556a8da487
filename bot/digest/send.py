"""Sending digests: what one niche sends to one channel on one day, built once, sent once.

`send_digests` is the job the CLI and the scheduler run: for every niche and channel it records
the digest as pending *before* sending, delivers it, and marks it sent (with the deliveries and
the reading queue) in one transaction *after*. A digest that failed or was cut short is resent
unchanged on the next run; one already sent is not sent again unless forced.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TextIO

from pydantic import SecretStr
from sqlalchemy.exc import OperationalError
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from bot.config import Niche, Settings
from bot.deliver import deliver
from bot.deliver.render import render_markdown
from bot.digest.build import build_digest
from bot.digest.window import new_papers
from bot.errors import DeliveryError, DeliveryUncertain, StoreError
from bot.models import Digest, DigestOutcome, DigestReport, DigestStatus
from bot.store import Store
from ranking.models import Ranking
from sources.models import Paper

log = logging.getLogger(__name__)

CATCH_UP = timedelta(days=7)  # how far back an unsent digest is still resent
SAVE_PATIENCE = timedelta(minutes=5)  # how long a ledger write after a post waits for locks
# (niche, candidate ids, exclude_ids) -> the ranking of those candidates and the papers it names
Ranker = Callable[[Niche, Collection[str], Collection[str]], tuple[Ranking, dict[str, Paper]]]


# ---- sending ----------------------------------------------------------------------------------


def send_digests(
    settings: Settings,
    store: Store,
    *,
    niche: str | None = None,
    dry_run: bool = False,
    force: bool = False,
    today: date | None = None,
    ranker: Ranker | None = None,
    console: TextIO | None = None,
    resume_only: bool = False,
    resend: bool = False,
) -> DigestReport:
    """Build and deliver today's digest for every niche (or one) and each of its channels.

    Never raises for one channel: its outcome says `failed` and why, and the next run retries
    it with the same payload. `dry_run` builds (or reloads) what would be sent and records nothing.
    `resume_only` only resends recorded digests that are still unsent (the daemon's retry job).
    `resend` posts again what a webhook or mail server may have taken without saying so.
    """
    day = today or datetime.now(settings.tz).date()
    niches = [settings.niche(niche)] if niche else list(settings.niches)
    rank = ranker or _store_ranker(settings, store)
    report = DigestReport()
    if not niches:
        report.notes.append("no niches are configured; add one under `niches:` in config.yaml")
    for n in niches:
        if not n.channels:
            report.notes.append(
                f"niche {n.name!r} has no channels; add `channels: [console]` to it"
            )
        for channel in n.channels:
            days = [] if resume_only else [day]
            if not (dry_run or force):  # a digest that failed on an earlier day is never dropped
                oldest, until = (day - CATCH_UP).isoformat(), day.isoformat()
                if resume_only:
                    until = (day + timedelta(days=1)).isoformat()
                unsent = store.digests.unsent_days(n.name, channel, oldest, until)
                days = [date.fromisoformat(d) for d in unsent] + days
            for d in days:
                job = _Job(settings, store, n, channel, d, rank)
                report.outcomes.append(
                    _send_one(job, dry_run, force, resend, console or sys.stdout)
                )
    return report


@dataclass(frozen=True, slots=True)
class _Job:
    """One niche's digest for one channel on one day."""

    settings: Settings
    store: Store
    niche: Niche
    channel: str
    day: date
    rank: Ranker

    @property
    def key(self) -> tuple[str, str, str]:
        return self.niche.name, self.channel, self.day.isoformat()


def _send_one(
    job: _Job, dry_run: bool, force: bool, resend: bool, console: TextIO
) -> DigestOutcome:
    store, name, channel = job.store, job.niche.name, job.channel
    run_id = None if dry_run else store.state.start_run("digest", f"{name}/{channel}")
    digest: Digest | None = None
    progress: dict[str, Any] = {}
    cfg = job.settings.channels[channel]
    try:
        record = store.digests.get(*job.key)
        if record is not None and record.status == "sent" and not force:
            outcome = DigestOutcome(
                name, channel, "already-sent", f"sent at {record.sent_at:%H:%M} UTC"
            )
        else:
            if record is not None and not force:
                digest = Digest.from_json(record.payload)  # resend exactly what was recorded
                log.info("resuming %s/%s for %s (%s)", name, channel, job.day, record.status)
            else:
                digest = _build(job, record.id if record else None)
            if dry_run:
                return DigestOutcome(name, channel, "dry-run", render_markdown(digest), digest)
            if record is None or force:
                record = store.digests.record(*job.key, digest.to_json(), force=force)
                # Another process may have recorded the day first: what is stored is what is sent.
                digest = Digest.from_json(record.payload)
            progress = dict(record.progress)
            halted = progress.pop("halted", None)
            if halted and halted.get("config") == fingerprint(cfg):
                detail = f"{halted['error']} (not tried again until channels.{channel} changes)"
                return _finish(store, run_id, DigestOutcome(name, channel, "failed", detail))
            digest_id = record.id
            if not store.digests.claim(digest_id):
                busy = "another midlist process is sending it right now"
                return _finish(store, run_id, DigestOutcome(name, channel, "in-progress", busy))
            deliver(
                channel,
                cfg,
                digest,
                progress,
                lambda p: patiently(
                    store, "save progress", store.digests.save_progress, digest_id, p
                ),
                console=console,
                resend=resend,
            )
            status: DigestStatus = "sent" if digest.items else "nothing-new"
            detail = _mark_sent(store, digest_id, name, channel, digest)
            outcome = DigestOutcome(name, channel, status, detail, digest)
    except (DeliveryUncertain, _NotSaved) as exc:
        log.warning("digest %s/%s may have been delivered: %s", name, channel, exc)
        if not dry_run:  # recorded as failed, with progress saying it may have arrived
            progress.setdefault("uncertain", str(exc))
            _remember(job, str(exc), progress=progress)
        outcome = DigestOutcome(name, channel, "uncertain", str(exc), digest)
    except Exception as exc:  # one channel failing never stops the others
        expected = isinstance(exc, DeliveryError)
        reason = str(exc) if expected else f"{type(exc).__name__}: {exc}"
        log.warning("digest %s/%s failed: %s", name, channel, reason, exc_info=not expected)
        if not dry_run:
            if isinstance(exc, DeliveryError) and not exc.retryable:
                progress["halted"] = {"config": fingerprint(cfg), "error": reason}
            _remember(job, reason, progress=progress if "halted" in progress else None)
        outcome = DigestOutcome(name, channel, "failed", reason, digest)
    return _finish(store, run_id, outcome)


def _mark_sent(store: Store, digest_id: int, niche: str, channel: str, digest: Digest) -> str:
    """Mark it sent (deliveries and queue included); the outcome's detail."""
    try:
        write = store.digests.mark_sent
        patiently(store, "mark it sent", write, digest_id, niche, channel, digest.paper_ids)
    except _NotSaved as exc:  # delivered, and the saved progress says so: the next run records it
        return f"{digest.basis}; delivered, but {exc}: it is recorded as sent on the next run"
    return digest.basis


class _NotSaved(Exception):
    """The store stayed locked through every retry after a channel took (part of) a digest."""


def patiently(store: Store, what: str, write: Callable[..., None], *args: Any) -> None:
    """A ledger write after a channel took a post: retried through store locks for minutes, since
    losing it could turn a delivered digest into one that is sent again."""
    retrying = Retrying(
        stop=stop_after_delay(SAVE_PATIENCE.total_seconds()),
        wait=wait_exponential(multiplier=0.5, max=15),
        retry=retry_if_exception_type((OperationalError, StoreError)),
        before_sleep=lambda state: log.warning(
            "could not %s (%s); retrying", what, state.outcome.exception() if state.outcome else ""
        ),
        reraise=True,
    )
    try:
        retrying(write, *args)
    except (OperationalError, StoreError) as exc:
        raise _NotSaved(f"the store refused to {what} for {SAVE_PATIENCE}: {exc}") from exc


def fingerprint(cfg: Any) -> str:
    """A digest of a channel's config, secrets included, so a fix (a new token) is noticed."""
    values = {
        k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in dict(cfg).items()
    }
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _finish(store: Store, run_id: int | None, outcome: DigestOutcome) -> DigestOutcome:
    if run_id is not None:
        store.state.finish_run(
            run_id,
            outcome.status not in ("failed", "uncertain"),
            f"{outcome.status}: {outcome.detail}"[:2000],
        )
    return outcome


def _build(job: _Job, previous_id: int | None) -> Digest:
    """A fresh digest; a forced resend may repeat the papers its own earlier send delivered.

    Papers another niche's unsent digest holds for this channel today are left out too: that
    digest is resent as recorded, so taking them here would send them to the channel twice."""
    exclude = job.store.digests.delivered_ids(job.channel, except_digest=previous_id)
    # Papers the user already saved, read or skipped in this niche are done with, delivered or not.
    exclude.update(
        p for p, state in job.store.queue.states(job.niche.name).items() if state != "queued"
    )
    for other in job.store.digests.unsent(job.channel, job.day.isoformat()):
        if other.niche != job.niche.name:
            exclude.update(Digest.from_json(other.payload).paper_ids)
    window = new_papers(
        job.store, job.niche.name, job.channel, job.day, job.settings.lookback_days(job.niche)
    )
    if window.ids:
        ranking, papers = job.rank(job.niche, window.ids, exclude)
    else:  # never rank with no candidates: that would be every paper
        ranking, papers = Ranking(picks=(), pool_size=0, candidates=0), {}
    picks = tuple(p for p in ranking.picks if p.paper_id not in exclude)
    if not picks and job.store.papers.count() == 0:
        raise DeliveryError(
            "the store holds no papers yet: run `midlist collect` (or `midlist import FILE`) first",
            retryable=False,
        )
    return build_digest(
        job.niche,
        job.day,
        Ranking(picks=picks, pool_size=ranking.pool_size, candidates=len(window.ids)),
        papers,
        job.store.papers.mentions_of([p.paper_id for p in picks]),
        categories=job.settings.sources.arxiv.categories,
        arrived_until=window.arrived_until.isoformat(),
    )


def _remember(job: _Job, reason: str, *, progress: dict[str, Any] | None = None) -> None:
    try:
        record = job.store.digests.get(*job.key)
        if record is None or record.status == "sent":
            return
        if progress is not None:
            job.store.digests.save_progress(record.id, progress)
        job.store.digests.mark_failed(record.id, reason)
    except Exception:  # the store itself may be what failed; the run log still says why
        log.exception("could not record the outcome of %s/%s", job.niche.name, job.channel)


def _store_ranker(settings: Settings, store: Store) -> Ranker:
    def run(
        niche: Niche, ids: Collection[str], exclude: Collection[str]
    ) -> tuple[Ranking, dict[str, Paper]]:
        from bot import rank  # the ranking pipeline is heavy; load it only when a digest is built

        profile = rank.profile_for(niche, store)
        return rank.rank_niche(
            settings,
            store,
            profile,
            ids=ids,
            limit=niche.size,
            exclude_ids=exclude,
            **rank.niche_options(niche),
        )

    return run
