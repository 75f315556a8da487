"""Scheduler mechanics with fixed clocks and a test job: cron across DST, persistence, catch-up."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot import jobs
from bot.config import Settings, load_settings, parse_settings
from bot.errors import ConfigError
from bot.jobs import recorded
from bot.scheduler import (
    JobSpec,
    SleepWatch,
    cron_trigger,
    make_scheduler,
    plan,
    started,
    sync_jobs,
)
from bot.status import persisted_jobs
from bot.store import Store

pytestmark = pytest.mark.backends  # every test that takes `store` runs on both


def tick(path: str) -> None:
    """A job that only leaves a trace: one line per run."""
    with open(path, "a", encoding="utf-8") as f:
        f.write("ran\n")


def settings_with(**overrides: Any) -> Settings:
    data: dict[str, Any] = {
        "timezone": "Europe/Berlin",
        "niches": [
            {"name": "ssm", "keywords": ["state space model"]},
            {"name": "graphs", "keywords": ["graph"], "schedule": "0 7 * * mon-fri"},
        ],
    }
    data.update(overrides)
    return parse_settings(data)


def fires(trigger: Any, start: datetime, count: int) -> list[datetime]:
    out, previous, now = [], None, start
    for _ in range(count):
        nxt = trigger.get_next_fire_time(previous, now)
        out.append(nxt.astimezone(UTC))
        previous = now = nxt
    return out


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ---- cron ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weekdays", "expected"),
    [
        ("sun-thu", "sun,mon,tue,wed,thu"),
        ("1-5", "mon,tue,wed,thu,fri"),  # crontab numbering: 1 is Monday
        ("0", "sun"),
        ("7", "sun"),
        ("1-7", "sun,mon,tue,wed,thu,fri,sat"),
        ("fri-mon", "sun,mon,fri,sat"),
        ("*/2", "sun,tue,thu,sat"),
        ("mon,wed", "mon,wed"),
        ("*", "*"),
    ],
)
def test_cron_weekdays_read_as_in_crontab(weekdays: str, expected: str) -> None:
    trigger = cron_trigger(f"0 8 * * {weekdays}", "UTC", "schedule.digest")
    assert str(trigger.fields[4]) == expected


def test_day_of_month_with_a_star_weekday_step_is_read_as_crontab_does() -> None:
    """crontab ANDs the day fields when one starts with '*': every other day, Mondays only."""
    trigger = cron_trigger("0 8 */2 * mon", "UTC", "schedule.digest")
    assert fires(trigger, utc(2026, 3, 1), 2) == [utc(2026, 3, 9, 8), utc(2026, 3, 23, 8)]


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("30 8 * *", "expected 5 fields"),
        ("61 8 * * *", "not a valid crontab line"),
        ("30 8 * * funday", "not a weekday"),
        ("30 8 1 * mon", "crontab would run it on either"),
    ],
)
def test_bad_cron_names_the_key(expr: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=rf"^niches\[1\]\.schedule: .*{problem}"):
        cron_trigger(expr, "UTC", "niches[1].schedule")


def test_config_check_catches_a_bad_schedule_line() -> None:
    with pytest.raises(ConfigError, match=r"^config: schedule\.collect: .*expected 5 fields"):
        parse_settings({"schedule": {"collect": "30 20 * *"}})


def test_default_collect_follows_new_york_across_spring_forward() -> None:
    collect = plan(settings_with())[0]
    assert collect.id == "collect"
    # Wed 4 March 2026 noon UTC; DST starts in New York on Sunday 8 March.
    assert fires(collect.trigger, utc(2026, 3, 4, 12), 4) == [
        utc(2026, 3, 5, 1, 30),  # Wed 20:30 EST
        utc(2026, 3, 6, 1, 30),  # Thu 20:30 EST; no Friday or Saturday run
        utc(2026, 3, 9, 0, 30),  # Sun 20:30 EDT
        utc(2026, 3, 10, 0, 30),  # Mon 20:30 EDT
    ]


def test_default_collect_follows_new_york_across_fall_back() -> None:
    collect = plan(settings_with())[0]
    assert fires(collect.trigger, utc(2026, 10, 29, 12), 3) == [
        utc(2026, 10, 30, 0, 30),  # Thu 29 Oct 20:30 EDT
        utc(2026, 11, 2, 1, 30),  # Sun 1 Nov 20:30 EST
        utc(2026, 11, 3, 1, 30),
    ]


def test_digest_stays_at_local_morning_across_berlin_dst_changes() -> None:
    digest = plan(settings_with())[1]
    assert digest.id == "digest"
    assert fires(digest.trigger, utc(2026, 3, 28, 0), 2) == [
        utc(2026, 3, 28, 7, 30),  # 08:30 CET
        utc(2026, 3, 29, 6, 30),  # 08:30 CEST
    ]
    assert fires(digest.trigger, utc(2026, 10, 24, 0), 2) == [
        utc(2026, 10, 24, 6, 30),
        utc(2026, 10, 25, 7, 30),
    ]
    local = [
        t.astimezone(ZoneInfo("Europe/Berlin")) for t in fires(digest.trigger, utc(2026, 3, 28), 2)
    ]
    assert [(t.hour, t.minute) for t in local] == [(8, 30), (8, 30)]


# ---- the plan --------------------------------------------------------------------------------


def test_niche_schedule_gets_its_own_digest_job() -> None:
    specs = plan(settings_with())
    assert [s.id for s in specs] == ["collect", "digest", "digest:graphs", "retry"]
    # Nothing of this machine is persisted: every daemon runs the jobs with its own config.
    assert [s.kwargs for s in specs] == [{}, {"niche": None}, {"niche": "graphs"}, {}]
    # Monday 6 April 2026, 07:00 in Berlin is 05:00 UTC.
    assert fires(specs[2].trigger, utc(2026, 4, 4), 1) == [utc(2026, 4, 6, 5, 0)]


def test_no_shared_digest_job_when_every_niche_has_its_own_schedule() -> None:
    settings = settings_with(niches=[{"name": "a", "keywords": ["x"], "schedule": "0 9 * * *"}])
    assert [s.id for s in plan(settings)] == ["collect", "digest:a", "retry"]


def test_bad_niche_schedule_is_a_config_error_with_its_key() -> None:
    with pytest.raises(
        ConfigError, match=r"niches\[0\]\.schedule: 'every day' is not a crontab line"
    ):
        settings_with(niches=[{"name": "a", "keywords": ["x"], "schedule": "every day"}])


# ---- persistence and catch-up ---------------------------------------------------------------


def tick_spec(path: Path, hours_ago: int = 6) -> JobSpec:
    """Daily at a UTC hour a few hours back, so its last due time is `hours_ago` hours past."""
    hour = (datetime.now(UTC) - timedelta(hours=hours_ago)).hour
    return JobSpec(
        "tick", "tick", tick, cron_trigger(f"0 {hour} * * *", "UTC", "test"), {"path": str(path)}
    )


def persist_as_missed(store: Store, settings: Settings, spec: JobSpec, days: int) -> None:
    """A daemon that stopped `days` days ago: the job's persisted next run is long past."""
    with started(settings, store, [spec]) as scheduler:
        scheduler.pause()
        scheduler.modify_job(spec.id, next_run_time=datetime.now(UTC) - timedelta(days=days))


def wait_for(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_restart_keeps_jobs_and_their_next_run(store_url: str) -> None:
    url = store_url
    settings = settings_with()
    specs = plan(settings)
    first = Store(url)
    with started(settings, first, specs):
        pass
    before = persisted_jobs(first)
    first.close()

    second = Store(url)  # a new process on the same file
    assert persisted_jobs(second) == before
    assert sorted(j.job for j in before) == ["collect", "digest", "digest:graphs", "retry"]
    assert all(j.next_run is not None and j.next_run > datetime.now(UTC) for j in before)
    with started(settings, second, specs) as scheduler:
        assert {j.id: j.next_run_time for j in scheduler.get_jobs()} == {
            j.job: j.next_run for j in before
        }
    second.close()


def test_config_change_applies_on_restart(store: Store) -> None:
    settings = settings_with()
    with started(settings, store, plan(settings)):
        pass
    changed = settings_with(
        niches=[{"name": "ssm", "keywords": ["x"]}],  # the graphs override is gone
        schedule={"digest": "0 6 * * *"},
    )
    with started(changed, store, plan(changed)):
        pass
    jobs = {j.job: j for j in persisted_jobs(store)}
    assert sorted(jobs) == ["collect", "digest", "retry"]
    assert jobs["digest"].trigger == "0 6 * * * Europe/Berlin"
    assert (
        jobs["digest"].next_run is not None
        and jobs["digest"].next_run.astimezone(ZoneInfo("Europe/Berlin")).hour == 6
    )


def test_missed_runs_are_caught_up_exactly_once(store: Store, tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    settings = settings_with(schedule={"misfire_grace_minutes": 5 * 24 * 60})
    spec = tick_spec(trace)
    persist_as_missed(store, settings, spec, days=3)  # three or four due times were slept through
    assert not trace.exists()

    with started(settings, store, [spec]):
        wait_for(trace.exists)
    assert trace.read_text() == "ran\n"  # coalesced: once, not once per missed day
    (job,) = persisted_jobs(store)
    assert job.next_run is not None and job.next_run > datetime.now(UTC)


def test_missed_run_beyond_the_grace_is_skipped(store: Store, tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    settings = settings_with(schedule={"misfire_grace_minutes": 60})
    spec = tick_spec(trace, hours_ago=6)  # its last due time is about 6 hours ago, past the grace
    persist_as_missed(store, settings, spec, days=2)

    with started(settings, store, [spec]):
        wait_for(lambda: persisted_jobs(store)[0].next_run > datetime.now(UTC))  # type: ignore[operator]
    assert not trace.exists()


def test_scheduler_uses_coalescing_single_instance_jobs(store: Store) -> None:
    settings = settings_with(schedule={"misfire_grace_minutes": 90})
    scheduler = make_scheduler(settings, store)
    scheduler.start(paused=True)
    try:
        sync_jobs(scheduler, plan(settings), 90 * 60)
        for job in scheduler.get_jobs():
            assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 5400)
    finally:
        scheduler.shutdown()


# ---- the run log -----------------------------------------------------------------------------


def test_a_failing_job_is_recorded_and_does_not_raise(store: Store) -> None:
    def boom() -> tuple[bool, str]:
        raise RuntimeError("arXiv is down")

    outcome = recorded(store, "collect", boom)
    assert (outcome.ok, outcome.detail) == (False, "RuntimeError: arXiv is down")
    (run,) = store.state.recent_failures()
    assert (run.kind, run.target, run.detail) == ("job", "collect", "RuntimeError: arXiv is down")
    assert run.finished_at is not None


def test_a_job_with_a_broken_config_fails_without_raising(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("timezone: Mars/Olympus\n")
    jobs.use_config(lambda: load_settings(config))
    try:
        outcome = jobs.collect_job()
    finally:
        jobs.use_config(None)
    assert not outcome.ok and "unknown time zone" in outcome.detail


def test_a_job_outside_a_daemon_refuses_to_guess_a_config() -> None:
    outcome = jobs.digest_job("ssm")
    assert (outcome.job, outcome.ok) == ("digest:ssm", False)
    assert "scheduled jobs run inside `midlist run`" in outcome.detail


def test_sleep_watch_notices_a_suspend_but_not_normal_time() -> None:
    wall, mono = [1000.0], [50.0]
    watch = SleepWatch(wall=lambda: wall[0], monotonic=lambda: mono[0])
    wall[0] += 1.0
    mono[0] += 1.0
    assert not watch.slept()  # an ordinary second
    wall[0] += 8 * 3600.0 + 1.0  # eight hours asleep: the monotonic clock stood still
    mono[0] += 1.0
    assert watch.slept()
    wall[0] += 1.0
    mono[0] += 1.0
    assert not watch.slept()  # only once per jump
