"""The daemon's timetable: cron jobs from config, persisted in the store, caught up after downtime.

Jobs are `collect` (schedule.collect in schedule.collect_timezone), `digest` (schedule.digest in
the top-level timezone, for every niche without its own schedule) and `digest:<niche>` for each
niche with `schedule:`. They live in APScheduler's SQLAlchemy job store inside the midlist
database, so a restart keeps them; a job whose persisted next run passed while the daemon was
down runs once on start (coalesced) if it is within schedule.misfire_grace_minutes.

No business logic lives here: a job loads the config, opens the store and calls
`bot.collect.collect_all` or `bot.digest.send.send_digests`, recording one `job` run.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from types import FrameType
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import inspect

from bot.config import Settings, load_settings
from bot.cron import parse_cron
from bot.errors import ConfigError
from bot.store import Store

log = logging.getLogger(__name__)

COLLECT_JOB = "collect"
DIGEST_JOB = "digest"
RETRY_JOB = "retry"
JOBS_TABLE = "apscheduler_jobs"


# ---- cron ------------------------------------------------------------------------------------


def cron_trigger(expr: str, timezone: str, key: str) -> CronTrigger:
    """`parse_cron`, with errors that name the config key."""
    try:
        return parse_cron(expr, timezone)
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}") from exc


# ---- the plan --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One persisted job: what runs, when, and with which (picklable) arguments."""

    id: str
    name: str
    func: Callable[..., Any]
    trigger: CronTrigger
    kwargs: dict[str, Any] = field(default_factory=dict)


def plan(settings: Settings, config_path: str) -> list[JobSpec]:
    """The jobs the config asks for. Raises ConfigError naming a bad cron key."""
    sched = settings.schedule
    specs = [
        JobSpec(
            COLLECT_JOB,
            "collect papers",
            collect_job,
            cron_trigger(sched.collect, sched.collect_timezone, "schedule.collect"),
            {"config_path": config_path},
        )
    ]
    if any(n.schedule is None for n in settings.niches):
        specs.append(
            JobSpec(
                DIGEST_JOB,
                "digest for niches on schedule.digest",
                digest_job,
                cron_trigger(sched.digest, settings.timezone, "schedule.digest"),
                {"config_path": config_path, "niche": None},
            )
        )
    for i, niche in enumerate(settings.niches):
        if niche.schedule is not None:
            specs.append(
                JobSpec(
                    f"{DIGEST_JOB}:{niche.name}",
                    f"digest for {niche.name}",
                    digest_job,
                    cron_trigger(niche.schedule, settings.timezone, f"niches[{i}].schedule"),
                    {"config_path": config_path, "niche": niche.name},
                )
            )
    if settings.niches:
        specs.append(
            JobSpec(
                RETRY_JOB,
                "resend digests a channel failed to take",
                retry_job,
                cron_trigger(sched.retry, settings.timezone, "schedule.retry"),
                {"config_path": config_path},
            )
        )
    return specs


# ---- jobs ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    job: str
    ok: bool
    detail: str  # what failed, one item per line; or a short summary when all went well


def collect_job(config_path: str) -> Outcome:
    """Scheduled collect: every enabled source once."""
    return _with_store(config_path, COLLECT_JOB, _collect)


def digest_job(config_path: str, niche: str | None = None) -> Outcome:
    """Scheduled digest: one niche, or (niche=None) every niche that follows schedule.digest."""
    job = f"{DIGEST_JOB}:{niche}" if niche else DIGEST_JOB

    def body(settings: Settings, store: Store) -> tuple[bool, str]:
        names = [niche] if niche else [n.name for n in settings.niches if n.schedule is None]
        return _digest(settings, store, names)

    return _with_store(config_path, job, body)


def retry_job(config_path: str) -> Outcome:
    """Resend recorded digests that a channel failed to take; never builds a new one."""

    def body(settings: Settings, store: Store) -> tuple[bool, str]:
        return _digest(settings, store, None, resume_only=True)

    return _with_store(config_path, RETRY_JOB, body)


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


def _with_store(
    config_path: str, job: str, body: Callable[[Settings, Store], tuple[bool, str]]
) -> Outcome:
    # Read the config at run time, so an edit applies to the next run without a restart.
    try:
        settings = load_settings(config_path)
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
    failed = [f"{o.niche}/{o.channel}: {o.detail}" for o in results if o.status == "failed"]
    if failed:
        return False, "\n".join(failed)
    notes = [note for report in reports for note in report.notes]
    summary = [f"{o.niche}/{o.channel} {o.status}" for o in results] + notes
    return True, "\n".join(summary) or "nothing to send"


# ---- the scheduler ---------------------------------------------------------------------------


def make_scheduler(settings: Settings, store: Store) -> BackgroundScheduler:
    """Jobs in the store's database; one job at a time; missed runs coalesced within the grace."""
    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=store.engine, tablename=JOBS_TABLE)},
        # One worker: collect and digest never write the store at the same time.
        executors={"default": ThreadPoolExecutor(1)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": settings.schedule.misfire_grace_minutes * 60,
        },
        timezone=settings.tz,
    )


def sync_jobs(scheduler: BackgroundScheduler, specs: list[JobSpec], grace_seconds: int) -> None:
    """Make the persisted jobs match the plan, without losing a run missed while stopped.

    A job whose function, trigger and arguments are unchanged keeps its persisted next run time,
    even a past one, so the scheduler catches it up once on start. A changed job starts afresh;
    a job the config no longer asks for is removed.
    """
    wanted = {spec.id for spec in specs}
    for job in scheduler.get_jobs():
        if job.id not in wanted:
            log.info("removing job %s: the config no longer asks for it", job.id)
            scheduler.remove_job(job.id)
    for spec in specs:
        old = scheduler.get_job(spec.id)
        options: dict[str, Any] = {}
        if old is not None and old.next_run_time is not None and _same(old, spec):
            options["next_run_time"] = old.next_run_time
        scheduler.add_job(
            spec.func,
            trigger=spec.trigger,
            id=spec.id,
            name=spec.name,
            kwargs=spec.kwargs,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=grace_seconds,
            **options,
        )


def _same(job: Job, spec: JobSpec) -> bool:
    return (
        job.func is spec.func
        and str(job.trigger) == str(spec.trigger)
        and str(getattr(job.trigger, "timezone", "")) == str(spec.trigger.timezone)
        and job.kwargs == spec.kwargs
    )


@contextmanager
def started(
    settings: Settings, store: Store, specs: list[JobSpec]
) -> Iterator[BackgroundScheduler]:
    """A running scheduler with the planned jobs; on exit it stops after the running job ends."""
    scheduler = make_scheduler(settings, store)
    scheduler.start(paused=True)  # the job store is open, nothing fires until the jobs are synced
    try:
        sync_jobs(scheduler, specs, settings.schedule.misfire_grace_minutes * 60)
        for job in scheduler.get_jobs():
            log.info("job %s: next run %s", job.id, job.next_run_time)
        scheduler.resume()
        yield scheduler
    finally:
        log.info("stopping: waiting for a running job to finish")
        # Detach the job store first: while stopping, APScheduler 3 would still pick up a job that
        # is due, fail to submit it to the closed executor, and advance it, losing that run.
        scheduler.remove_jobstore("default")
        scheduler.shutdown(wait=True)
        log.info("stopped")


class SleepWatch:
    """Notices a suspend or a clock change: wall time that moved more than monotonic time.

    The scheduler waits on a monotonic timer, which stands still while the machine sleeps; a
    laptop asleep through 08:30 would otherwise send the digest hours late instead of on wake.
    """

    def __init__(
        self,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        slack_seconds: float = 5.0,
    ):
        self._wall, self._monotonic, self._slack = wall, monotonic, slack_seconds
        self._last = (wall(), monotonic())

    def slept(self) -> bool:
        now = (self._wall(), self._monotonic())
        drift = (now[0] - self._last[0]) - (now[1] - self._last[1])
        self._last = now
        return abs(drift) > self._slack


def serve(settings: Settings, store: Store, specs: list[JobSpec]) -> None:
    """Run the daemon until SIGINT or SIGTERM; the job in progress finishes before return."""
    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        stop.set()
        # A second Ctrl-C should not be swallowed: it interrupts the wait for the running job.
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with started(settings, store, specs) as scheduler:
            log.info("scheduler running (Ctrl-C or SIGTERM to stop)")
            watch = SleepWatch()
            while not stop.wait(1.0):
                if watch.slept():
                    log.info(
                        "the wall clock jumped ahead (the machine slept?); checking for due jobs"
                    )
                    scheduler.wakeup()
            log.info("received %s", signal.Signals(received[0]).name)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# ---- status ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlannedRun:
    job: str
    name: str
    next_run: datetime | None
    trigger: str


def persisted_jobs(store: Store) -> list[PlannedRun]:
    """The jobs in the store's job table, read without starting a scheduler."""
    if not inspect(store.engine).has_table(JOBS_TABLE):
        return []
    jobstore = SQLAlchemyJobStore(engine=store.engine, tablename=JOBS_TABLE)
    return [
        PlannedRun(job.id, job.name, job.next_run_time, _crontab(job.trigger))
        for job in jobstore.get_all_jobs()
    ]


def _crontab(trigger: Any) -> str:
    """`30 20 * * sun,mon,tue,wed,thu America/New_York`: the trigger as the user wrote it."""
    if not isinstance(trigger, CronTrigger):
        return str(trigger)
    f = {field.name: str(field) for field in trigger.fields}
    when = " ".join(f[name] for name in ("minute", "hour", "day", "month", "day_of_week"))
    return f"{when} {trigger.timezone}"
