"""The daemon's timetable and the daemon: cron jobs from config, persisted in the database.

Jobs are `collect` (schedule.collect in schedule.collect_timezone), `digest` (schedule.digest in
the top-level timezone, for every niche without its own schedule) and `digest:<niche>` for each
niche with `schedule:`. They live in APScheduler's SQLAlchemy job store inside the midlist
database, so a restart keeps them; a job whose persisted next run passed while the daemon was
down runs once on start (coalesced) if it is within schedule.misfire_grace_minutes.

Several daemons may run against one database (on several machines): one leads (`bot.lock`),
the others wait as standbys and take over when it stops. The leader schedules with its own
config; the job bodies are in `bot.jobs`.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from bot import jobs
from bot.config import Settings
from bot.cron import parse_cron
from bot.errors import ConfigError
from bot.jobs import COLLECT_JOB, DIGEST_JOB, RETRY_JOB, collect_job, digest_job, retry_job
from bot.lock import Leadership, describe
from bot.store import Store

log = logging.getLogger(__name__)

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


def plan(settings: Settings) -> list[JobSpec]:
    """The jobs the config asks for. Raises ConfigError naming a bad cron key.

    Arguments name nothing of this machine (no path): the job table is shared by every daemon
    on the database, and whichever leads runs the jobs with its own config."""
    sched = settings.schedule
    specs = [
        JobSpec(
            COLLECT_JOB,
            "collect papers",
            collect_job,
            cron_trigger(sched.collect, sched.collect_timezone, "schedule.collect"),
        )
    ]
    if any(n.schedule is None for n in settings.niches):
        specs.append(
            JobSpec(
                DIGEST_JOB,
                "digest for niches on schedule.digest",
                digest_job,
                cron_trigger(sched.digest, settings.timezone, "schedule.digest"),
                {"niche": None},
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
                    {"niche": niche.name},
                )
            )
    if settings.niches:
        specs.append(
            JobSpec(
                RETRY_JOB,
                "resend digests a channel failed to take",
                retry_job,
                cron_trigger(sched.retry, settings.timezone, "schedule.retry"),
            )
        )
    return specs


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


def run_daemon(
    settings: Settings, store: Store, specs: list[JobSpec], source: jobs.SettingsSource
) -> None:
    """Run the daemon until SIGINT or SIGTERM: lead the schedule, or stand by until it can.

    `source` gives the jobs this daemon's settings when they run (it is never persisted). The
    job in progress finishes before return, and the lease is given up for a standby."""
    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        stop.set()
        # A second Ctrl-C should not be swallowed: it interrupts the wait for the running job.
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    leadership = Leadership(store, settings.schedule.lease_seconds)
    jobs.use_config(source)
    try:
        while not stop.is_set():
            if leadership.try_lead():
                _lead(settings, store, specs, leadership, stop)
            else:
                _stand_by(leadership, stop)
        log.info("received %s", signal.Signals(received[0]).name)
    finally:
        leadership.release()
        jobs.use_config(None)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _lead(
    settings: Settings,
    store: Store,
    specs: list[JobSpec],
    leadership: Leadership,
    stop: threading.Event,
) -> None:
    """Schedule while the lease is ours; return on stop or when the lease is lost."""
    tick = min(1.0, leadership.renew_every)
    with started(settings, store, specs) as scheduler:
        log.info(
            "scheduler running, leading this database as pid %d on %s (Ctrl-C or SIGTERM to stop)",
            leadership.pid,
            leadership.host,
        )
        watch = SleepWatch()
        renew_at = time.monotonic() + leadership.renew_every
        while not stop.wait(tick):
            if time.monotonic() >= renew_at:
                if not leadership.try_lead():
                    return
                renew_at = time.monotonic() + leadership.renew_every
            if watch.slept():
                log.info("the wall clock jumped ahead (the machine slept?); checking for due jobs")
                scheduler.wakeup()


def _stand_by(leadership: Leadership, stop: threading.Event) -> None:
    """Wait while another daemon leads; return when its lease can be taken, or on stop."""
    holder = leadership.holder()
    log.info(
        "standby: %s leads this database; taking over if it stops renewing its lease (%gs)",
        describe(holder) if holder else "another daemon",
        leadership.ttl.total_seconds(),
    )
    while not stop.wait(leadership.poll_every):
        if leadership.try_lead():
            log.info(
                "taking over: %s stopped renewing",
                describe(holder) if holder else "the previous leader",
            )
            return
