"""`midlist run` and `midlist status` from the outside: the real CLI, a real subprocess, signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from bot.config import load_settings
from bot.scheduler import plan, started
from bot.status import persisted_jobs
from bot.store import Store
from bot.store.state import Run
from tests.conftest import ROOT, ConfigFile, run_cli

EMPTY_ATOM = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">
  <title>arXiv Query: cat:cs.LG</title>
  <id>http://arxiv.org/api/test</id>
  <updated>2026-11-20T00:00:00-05:00</updated>
  <opensearch:totalResults>0</opensearch:totalResults>
  <opensearch:startIndex>0</opensearch:startIndex>
  <opensearch:itemsPerPage>100</opensearch:itemsPerPage>
</feed>
"""


def write_config(
    config_file: ConfigFile,
    *,
    arxiv_url: str | None = None,
    digest: str = "30 8 * * *",
    channels: tuple[str, ...] = ("out",),
) -> Path:
    arxiv = (
        {
            "api_url": arxiv_url,
            "queries": ["cat:cs.LG"],
            "delay_seconds": 0,
            "retries": 0,
            "timeout_seconds": 10,
        }
        if arxiv_url
        else {"enabled": False}
    )
    return config_file(
        timezone="Europe/Berlin",
        sources={"arxiv": arxiv},
        niches=[{"name": "ssm", "keywords": ["state space model"], "channels": list(channels)}],
        channels={"console": None, "out": {"type": "file", "path": "digests/{niche}-{date}.md"}},
        schedule={"digest": digest},
    )


def stored_runs(config: Path) -> tuple[list[Run], list[Run]]:
    """The last run per (kind, target) and the recent failures, as `midlist status` reads them."""
    store = Store(load_settings(config).storage.url)
    try:
        return store.state.last_runs(), store.state.recent_failures()
    finally:
        store.close()


def run_daemon_until(
    config: Path, ready: Callable[[subprocess.Popen[str]], object], signum: int
) -> tuple[int, str]:
    """Start `midlist run` in its own process, wait for `ready`, signal it; exit code and log."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIDLIST_")}
    daemon = subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(config), "run"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready(daemon)
        daemon.send_signal(signum)
        _, log = daemon.communicate(timeout=15)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.communicate()
    return daemon.returncode, log


def test_status_of_a_new_store(config_file: ConfigFile) -> None:
    code, out = run_cli(write_config(config_file), "status")
    assert code == 0
    assert out == (
        "Scheduler: not running\n\n"
        "Next runs:\n  none scheduled yet; start `midlist run` to schedule the jobs\n\n"
        "Last runs:\n  none yet\n"
    )


def test_status_shows_persisted_jobs_in_local_time_and_failures(config_file: ConfigFile) -> None:
    config = write_config(config_file, digest="15 9 * * *")
    settings = load_settings(config)
    store = Store(settings.storage.url)
    with started(settings, store, plan(settings)):
        pass
    run_id = store.state.start_run("collect", "arxiv")
    store.state.finish_run(run_id, False, "arXiv answered 503 three times\nsecond line")
    (job,) = [j for j in persisted_jobs(store) if j.job == "collect"]
    store.close()

    code, out = run_cli(config, "status")
    assert code == 0
    lines = out.splitlines()
    digest = next(line for line in lines if line.strip().startswith("digest "))
    assert " 09:15 CE" in digest and digest.endswith("(15 9 * * * Europe/Berlin)")
    assert job.next_run is not None
    assert job.next_run.astimezone(ZoneInfo("America/New_York")).strftime("%H:%M") == "20:30"
    berlin = job.next_run.astimezone(ZoneInfo("Europe/Berlin")).strftime("%a %Y-%m-%d %H:%M %Z")
    collect = next(line for line in lines if line.strip().startswith("collect "))
    assert collect == (  # when, in the user's zone; how, in the job's zone
        f"  collect                  {berlin}  (30 20 * * sun,mon,tue,wed,thu America/New_York)"
    )
    assert "  collect  arxiv" in out and "FAILED" in out
    assert "Recent failures:" in out and "arXiv answered 503 three times (+1 more)" in out


def test_run_stands_by_while_another_daemon_leads_and_status_names_it(
    config_file: ConfigFile,
) -> None:
    config = write_config(config_file)
    store = Store(load_settings(config).storage.url)
    assert store.leases.acquire("scheduler", "other", "elsewhere", 4242, timedelta(minutes=5))
    status_code, status = run_cli(config, "status")
    assert status_code == 0
    assert status.startswith("Scheduler: running, led by pid 4242 on elsewhere (last heartbeat 2")

    def standing_by(daemon: subprocess.Popen[str]) -> None:
        assert daemon.stderr is not None
        for line in daemon.stderr:
            if "standby: pid 4242 on elsewhere" in line:
                break

    code, log = run_daemon_until(config, standing_by, signal.SIGTERM)
    assert code == 0, log
    assert "scheduler running" not in log  # it never scheduled anything
    assert persisted_jobs(store) == []
    lease = store.leases.get("scheduler")
    assert lease is not None and (lease.holder, lease.pid) == ("other", 4242)  # left alone
    store.close()


def test_run_with_a_bad_cron_names_the_key(config_file: ConfigFile) -> None:
    code, out = run_cli(write_config(config_file, digest="30 25 * * *"), "run")
    assert code == 1
    assert "schedule.digest: '30 25 * * *' is not a valid crontab line" in out


def test_sigterm_lets_the_running_job_finish_then_exits_0(
    config_file: ConfigFile, httpserver: HTTPServer
) -> None:
    asked = threading.Event()

    def slow_arxiv(_request: Request) -> Response:
        asked.set()
        time.sleep(1.0)  # the job is mid-flight when SIGTERM arrives
        return Response(EMPTY_ATOM, content_type="application/atom+xml")

    httpserver.expect_request("/api/query").respond_with_handler(slow_arxiv)
    config = write_config(config_file, arxiv_url=httpserver.url_for("/api/query"))
    settings = load_settings(config)
    store = Store(settings.storage.url)
    # A daemon that stopped a minute before the evening collect was due: it runs on start.
    with started(settings, store, plan(settings)) as scheduler:
        scheduler.pause()
        scheduler.modify_job("collect", next_run_time=datetime.now(UTC) - timedelta(minutes=1))

    code, log = run_daemon_until(config, lambda _daemon: asked.wait(15), signal.SIGTERM)
    assert asked.is_set(), "the missed collect did not run on start"
    assert code == 0, log
    assert "received SIGTERM" in log and "stopped" in log

    runs = {(r.kind, r.target): r for r in store.state.last_runs()}
    job = runs[("job", "collect")]
    assert job.finished_at is not None  # finished, not cut off
    assert job.finished_at - job.started_at >= timedelta(seconds=0.9)
    assert ("collect", "arxiv") in runs and runs[("collect", "arxiv")].finished_at is not None
    (collect,) = [j for j in persisted_jobs(store) if j.job == "collect"]
    assert collect.next_run is not None and collect.next_run > datetime.now(UTC)
    store.close()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_idle_daemon_stops_cleanly_and_frees_the_store(
    config_file: ConfigFile, signum: int
) -> None:
    config = write_config(config_file)

    def running(daemon: subprocess.Popen[str]) -> None:
        assert daemon.stderr is not None
        for line in daemon.stderr:
            if "scheduler running" in line:
                break

    code, log = run_daemon_until(config, running, signum)
    assert code == 0, log
    code, out = run_cli(config, "status")
    assert out.startswith("Scheduler: not running")
    assert "collect" in out and "digest" in out


def test_run_once_exits_1_and_names_the_source_that_failed(
    config_file: ConfigFile, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/api/query").respond_with_data("busy", status=503)
    config = write_config(config_file, arxiv_url=httpserver.url_for("/api/query"))
    code, out = run_cli(config, "run", "--once")
    assert code == 1
    assert out.startswith("collect: FAILED\n  arxiv: ")
    _, failures = stored_runs(config)
    assert ("job", "collect") in {(r.kind, r.target) for r in failures}


def test_run_once_exits_0_when_nothing_failed(config_file: ConfigFile) -> None:
    # a niche with no channel: nothing to deliver, nothing fails
    config = write_config(config_file, channels=())
    code, out = run_cli(config, "run", "--once")
    assert code == 0, out
    assert out == (
        "collect: ok\n  no source is enabled\n"
        "digest: ok\n  niche 'ssm' has no channels; add `channels: [console]` to it\n"
    )
    last, failures = stored_runs(config)
    assert [(r.target, r.ok) for r in last if r.kind == "job"] == [
        ("collect", True),
        ("digest", True),
    ]
    assert failures == []
