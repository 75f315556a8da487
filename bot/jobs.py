"""The bodies of the scheduled jobs: collect, digest, retry; and one cycle for `run --once`.

A persisted job names one of these functions and nothing about the machine: the job table is
shared by every daemon on a database, so whichever daemon leads runs the jobs with its own
config. The daemon hands it over in-process with `use_config` before it starts the schedule;
each run reads the config afresh, so an edit applies to the next run without a restart.
No business logic lives here: a job opens the store and calls `bot.collect.collect_all` or
`bot.digest.send.send_digests`, recording one `job` run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.config import Settings
from bot.errors import ConfigError
from bot.store import Store

log = logging.getLogger(__name__)

COLLECT_JOB = "collect"
DIGEST_JOB = "digest"
RETRY_JOB = "retry"

SettingsSource = Callable[[], Settings]
_source: SettingsSource | None = None


def use_config(source: SettingsSource | None) -> None:
    """Where this process's jobs get their settings (None: nowhere, jobs refuse to run)."""
    global _source
    _source = source


@dataclass(frozen=True, slots=True)
class Outcome:
    job: str
    ok: bool
    detail: str  # what failed, one item per line; or a short summary when all went well


def collect_job() -> Outcome:
    """Scheduled collect: every enabled source once."""
    return _with_store(COLLECT_JOB, _collect)


def digest_job(niche: str | None = None) -> Outcome:
    """Scheduled digest: one niche, or (niche=None) every niche that follows schedule.digest."""
    job = f"{DIGEST_JOB}:{niche}" if niche else DIGEST_JOB

    def body(settings: Settings, store: Store) -> tuple[bool, str]:
        names = [niche] if niche else [n.name for n in settings.niches if n.schedule is None]
        return _digest(settings, store, names)

    return _with_store(job, body)


def retry_job() -> Outcome:
    """Resend recorded digests that a channel failed to take; never builds a new one."""

    def body(settings: Settings, store: Store) -> tuple[bool, str]:
        return _digest(settings, store, None, resume_only=True)

    return _with_store(RETRY_JOB, body)


def run_once(settings: Settings, store: Store) -> list[Outcome]:
    """One collect, then one digest for every niche: what `midlist run --once` does."""
    return [
        recorded(store, COLLECT_JOB, lambda: _collect(settings, store)),
        recorded(store, DIGEST_JOB, lambda: _digest(settings, store, None)),
    ]


def recorded(store: Store, job: str, body: Callable[[], tuple[bool, str]]) -> Outcome:
    """Run `body` as one `job` run in the run log; an exception is a failed run, not a crash."""
    run_id = store.state.start_run("job", job)
    log.info("job %s started", job)
    try:
        ok, detail = body()
    except Exception as exc:  # the daemon must outlive any one job
        log.exception("job %s failed", job)
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    store.state.finish_run(run_id, ok, detail)
    log.log(
        logging.INFO if ok else logging.ERROR,
        "job %s %s: %s",
        job,
        "ok" if ok else "FAILED",
        detail,
    )
    return Outcome(job, ok, detail)


def _with_store(job: str, body: Callable[[Settings, Store], tuple[bool, str]]) -> Outcome:
    if _source is None:
        detail = "no config in this process: scheduled jobs run inside `midlist run`"
        log.error("job %s not run: %s", job, detail)
        return Outcome(job, False, detail)
    try:
        settings = _source()
    except ConfigError as exc:
        log.error("job %s not run: %s", job, exc)
        return Outcome(job, False, str(exc))
    store = Store(settings.storage.url)
    try:
        return recorded(store, job, lambda: body(settings, store))
    finally:
        store.close()


def _collect(settings: Settings, store: Store) -> tuple[bool, str]:
    # Imported when a job runs, so `midlist status` and config checks stay light.
    from bot.collect import collect_all

    report = collect_all(settings, store)
    failed = [f"{r.name}: {r.error}" for r in report.sources if not r.ok]
    if failed:
        return False, "\n".join(failed)
    done = [f"{r.name}: {r.new} new, {r.updated} updated" for r in report.sources]
    return True, "\n".join(done) or "no source is enabled"


def _digest(
    settings: Settings, store: Store, niches: list[str] | None, resume_only: bool = False
) -> tuple[bool, str]:
    from bot.digest.send import send_digests

    if niches is not None and not niches:
        return True, "no niche follows schedule.digest"
    reports = (
        [send_digests(settings, store, resume_only=resume_only)]
        if niches is None
        else [send_digests(settings, store, niche=name) for name in niches]
    )
    results = [o for report in reports for o in report.outcomes]
    failed = [
        f"{o.niche}/{o.channel}: {o.detail}" for o in results if o.status in ("failed", "uncertain")
    ]
    if failed:
        return False, "\n".join(failed)
    notes = [note for report in reports for note in report.notes]
    summary = [f"{o.niche}/{o.channel} {o.status}" for o in results] + notes
    return True, "\n".join(summary) or "nothing to send"
