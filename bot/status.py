"""What `midlist status` reads: who leads the schedule, and the jobs persisted in the database.

Read without starting a scheduler or taking any lock, so it works on any machine that shares
the database, while a daemon runs elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import inspect

from bot.lock import SCHEDULER_LEASE
from bot.scheduler import JOBS_TABLE
from bot.store import Store
from bot.store.leases import Lease


@dataclass(frozen=True, slots=True)
class PlannedRun:
    job: str
    name: str
    next_run: datetime | None
    trigger: str


def leader(store: Store) -> Lease | None:
    """The daemon that leads (or last led) this database's schedule; check `.live()`."""
    return store.leases.get(SCHEDULER_LEASE)


def scheduler_line(lease: Lease | None) -> str:
    """`Scheduler: running (...)`, or why it is not."""
    if lease is None:
        return "Scheduler: not running"
    who = f"pid {lease.pid} on {lease.host}"
    beat = f"last heartbeat {lease.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC"
    if lease.live():
        return f"Scheduler: running, led by {who} ({beat}, since {lease.acquired_at:%Y-%m-%d %H:%M} UTC)"
    return f"Scheduler: not running (the last leader, {who}, stopped renewing; {beat})"


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
