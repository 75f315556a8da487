"""One scheduler per store: contention is refused with who and since; a dead holder is recovered."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.lock import SchedulerBusy, SchedulerLock, current_holder, lock_path, read_holder
from tests.conftest import ROOT

HOLD = """
import sys, time
from pathlib import Path
from bot.lock import SchedulerLock
lock = SchedulerLock(Path(sys.argv[1]))
lock.acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_lock_path_is_beside_a_sqlite_file_and_in_the_data_dir_otherwise(tmp_path: Path) -> None:
    assert lock_path(f"sqlite:///{tmp_path}/m.db", "x/index") == tmp_path / "m.db.scheduler.lock"
    server = lock_path("postgresql://bot@db/midlist", str(tmp_path / "data" / "index"))
    assert server == tmp_path / "data" / "scheduler.lock"


def test_lock_records_this_process_and_clears_on_release(tmp_path: Path) -> None:
    path = tmp_path / "m.db.scheduler.lock"
    with SchedulerLock(path):
        holder = current_holder(path)
        assert holder is not None and holder.pid == os.getpid()
    assert current_holder(path) is None
    assert path.read_text() == ""


def test_second_lock_is_refused_with_pid_and_since(tmp_path: Path) -> None:
    path = tmp_path / "m.db.scheduler.lock"
    with SchedulerLock(path):
        with pytest.raises(SchedulerBusy, match=rf"pid {os.getpid()} on .*, since \d{{4}}-"):
            SchedulerLock(path).acquire()
    with SchedulerLock(path):  # free again once released
        pass


def test_lock_held_by_another_process_is_refused_then_recovered_when_it_dies(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "m.db.scheduler.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(SchedulerBusy, match=f"pid {holder.pid} "):
            SchedulerLock(path).acquire()
        assert current_holder(path) is not None
    finally:
        holder.send_signal(signal.SIGKILL)  # a crash: no chance to clean up
        holder.wait(timeout=10)
        holder.stdout.close()  # type: ignore[union-attr]
    assert read_holder(path) is not None and read_holder(path).pid == holder.pid  # type: ignore[union-attr]
    with caplog.at_level(logging.WARNING, logger="bot.lock"):
        with SchedulerLock(path):
            assert current_holder(path).pid == os.getpid()  # type: ignore[union-attr]
    assert f"pid {holder.pid}" in caplog.text and "recovered" in caplog.text


def test_stale_file_from_a_dead_pid_does_not_block(tmp_path: Path) -> None:
    path = tmp_path / "m.db.scheduler.lock"
    path.write_text(
        json.dumps({"pid": 999999, "host": "elsewhere", "since": "2026-01-01T00:00:00+00:00"})
    )
    assert current_holder(path) is None
    with SchedulerLock(path):
        assert read_holder(path).pid == os.getpid()  # type: ignore[union-attr]


def test_unreadable_lock_file_is_treated_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "m.db.scheduler.lock"
    path.write_text("not json")
    assert read_holder(path) is None
    with SchedulerLock(path):
        assert read_holder(path) is not None
