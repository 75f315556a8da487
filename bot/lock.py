"""One scheduler per store: an exclusive lock file beside the database.

The lock is an OS file lock (`flock`), so it dies with its process: a daemon that crashed or
was killed leaves a file behind but no lock, and the next `midlist run` takes over. The file
records pid, host and start time so a refused second daemon can say who holds the store.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO

from bot.errors import MidlistError

log = logging.getLogger(__name__)


class SchedulerBusy(MidlistError):
    """Another live scheduler holds the lock for this store."""


@dataclass(frozen=True, slots=True)
class Holder:
    pid: int
    host: str
    since: datetime

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, since {self.since:%Y-%m-%d %H:%M:%S %Z}"


def lock_path(storage_url: str, index_dir: str) -> Path:
    """Beside a SQLite file; for a server database, in the data directory of this machine."""
    prefix = "sqlite:///"
    if storage_url.startswith(prefix) and storage_url[len(prefix) :] not in ("", ":memory:"):
        return Path(storage_url[len(prefix) :] + ".scheduler.lock")
    return Path(index_dir).expanduser().parent / "scheduler.lock"


class SchedulerLock:
    """`with SchedulerLock(path):` holds the store for this process, or raises SchedulerBusy."""

    def __init__(self, path: Path):
        self.path = path
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held until release)
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = read_holder(self.path)
            file.close()
            who = holder.describe() if holder else "a process that has not written its pid yet"
            raise SchedulerBusy(
                f"another `midlist run` already schedules this store ({who}; lock file "
                f"{self.path}). Stop that one first, or use `midlist status` to see it."
            ) from None
        stale = read_holder(self.path)
        if stale is not None:
            log.warning(
                "recovered a scheduler lock left by a process that is gone (%s)", stale.describe()
            )
        me = Holder(os.getpid(), socket.gethostname(), datetime.now(UTC))
        file.seek(0)
        file.truncate()
        file.write(json.dumps({"pid": me.pid, "host": me.host, "since": me.since.isoformat()}))
        file.flush()
        self._file = file
        log.info("holding the scheduler lock %s (%s)", self.path, me.describe())

    def release(self) -> None:
        if self._file is None:
            return
        # Empty the file before unlocking, so a clean stop is not later mistaken for a crash.
        self._file.seek(0)
        self._file.truncate()
        self._file.flush()
        fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
        self._file.close()
        self._file = None

    def __enter__(self) -> SchedulerLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def read_holder(path: Path) -> Holder | None:
    """Who the file names, or None when it is absent, empty or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "null")
        if not data:
            return None
        return Holder(int(data["pid"]), str(data["host"]), datetime.fromisoformat(data["since"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def current_holder(path: Path) -> Holder | None:
    """The live scheduler holding `path`, for `midlist status`; None when nobody holds it."""
    if not path.exists():
        return None
    with open(path, encoding="utf-8") as file:
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return read_holder(path) or Holder(0, "unknown", datetime.now(UTC))
        fcntl.flock(file.fileno(), fcntl.LOCK_UN)
    return None
