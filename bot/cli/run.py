"""`midlist run` (the daemon, or one cycle with --once) and `midlist status`."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, tzinfo

import click

from bot import jobs, scheduler
from bot.cli import App, cli, pass_app
from bot.config import load_settings
from bot.escape import terminal
from bot.status import leader, persisted_jobs, scheduler_line
from bot.store.state import Run


@cli.command()
@click.option("--once", is_flag=True, help="Run one collect + digest cycle and exit (for cron).")
@pass_app
def run(app: App, once: bool) -> None:
    """Collect and send digests on the configured schedule, until Ctrl-C or SIGTERM.

    One daemon leads per database, even across machines; another one started on the same
    database waits as a standby and takes over when the leader stops. With --once, the exit
    code is 1 when any source or channel failed, so cron and systemd timers notice.
    """
    settings = app.settings
    if once:
        outcomes = jobs.run_once(settings, app.store)
        for outcome in outcomes:
            mark = "ok" if outcome.ok else "FAILED"
            click.echo(f"{outcome.job}: {mark}")
            for line in outcome.detail.splitlines():
                click.echo(f"  {line}")
        if not all(o.ok for o in outcomes):
            sys.exit(1)
        return
    # The daemon's log is its output: job starts, ends and failures at INFO.
    logging.getLogger().setLevel(logging.DEBUG if app.verbose else logging.INFO)
    if not app.verbose:
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    specs = scheduler.plan(settings)  # a bad cron line fails here, before leading anything
    config_file = app.config_file.resolve()
    scheduler.run_daemon(settings, app.store, specs, lambda: load_settings(config_file))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@pass_app
def status(app: App, as_json: bool) -> None:
    """Show which daemon leads the schedule (host, pid, last heartbeat), the next scheduled runs,
    the last run per source and channel, and recent failures."""
    settings, store = app.settings, app.store
    if as_json:
        click.echo(json.dumps(status_record(app), indent=2, ensure_ascii=False))
        return
    tz = settings.tz
    click.echo(scheduler_line(leader(store)))

    click.echo("\nNext runs:")
    planned = persisted_jobs(store)
    if not planned:
        click.echo("  none scheduled yet; start `midlist run` to schedule the jobs")
    for job in planned:
        when = _when(job.next_run, tz) if job.next_run else "paused"
        click.echo(f"  {job.job:<24} {when}  ({job.trigger})")

    click.echo("\nLast runs:")
    last = store.state.last_runs()
    if not last:
        click.echo("  none yet")
    for r in last:
        click.echo(
            f"  {r.kind:<8} {r.target:<24} {_outcome(r):<8} {_when(r.started_at, tz)}"
            f"{_first_line(r.detail)}"
        )

    uncertain = store.digests.uncertain()
    if uncertain:
        click.echo("\nMaybe delivered (no answer came back, so not sent again by itself):")
        for d in uncertain:
            click.echo(f"  {d.day} {d.niche} -> {d.channel}{_first_line(d.progress['uncertain'])}")
        click.echo("  Check the channel; `midlist digest --resend` sends them again.")

    failures = store.state.recent_failures(limit=5)
    if failures:
        click.echo("\nRecent failures:")
        for r in failures:
            click.echo(f"  {_when(r.started_at, tz)} {r.kind} {r.target}{_first_line(r.detail)}")


def _outcome(r: Run) -> str:
    if r.ok is None:
        return "unfinished"
    return "ok" if r.ok else "FAILED"


def _when(dt: datetime, tz: tzinfo) -> str:
    return dt.astimezone(tz).strftime("%a %Y-%m-%d %H:%M %Z")


def _first_line(detail: str) -> str:
    lines = terminal(detail).strip().splitlines()  # errors may quote what a server sent
    if not lines:
        return ""
    more = f" (+{len(lines) - 1} more)" if len(lines) > 1 else ""
    return f"  {lines[0][:100]}{more}"


def status_record(app: App) -> dict[str, object]:
    """What `status` prints, as data: times are ISO 8601 in UTC, a run's `ok` is null while
    it is unfinished."""
    store = app.store
    lease = leader(store)

    def run(r: Run) -> dict[str, object]:
        return {
            "kind": r.kind,
            "target": r.target,
            "ok": r.ok,
            "started_at": r.started_at.isoformat(),
            "finished_at": r.finished_at.isoformat() if r.finished_at else None,
            "detail": r.detail,
        }

    return {
        "scheduler": {
            "running": lease is not None and lease.live(),
            "pid": lease.pid if lease else None,
            "host": lease.host if lease else None,
            "since": lease.acquired_at.isoformat() if lease else None,
            "heartbeat_at": lease.heartbeat_at.isoformat() if lease else None,
        },
        "next_runs": [
            {
                "job": j.job,
                "next_run": j.next_run.isoformat() if j.next_run else None,
                "trigger": j.trigger,
            }
            for j in persisted_jobs(store)
        ],
        "last_runs": [run(r) for r in store.state.last_runs()],
        "failures": [run(r) for r in store.state.recent_failures(limit=5)],
    }
