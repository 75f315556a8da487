"""A real PostgreSQL for the tests, started from Debian's `postgresql` package in a temp dir.

One server per test session on a free port of 127.0.0.1, with its `timezone` set to Asia/Tokyo
on purpose (a store that relied on a UTC server would shift its times by 9 hours); one fresh
database per test. Without the package (or without psycopg) the PostgreSQL half is skipped with
a message saying how to get it.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SERVER_TIMEZONE = "Asia/Tokyo"
USER = "midlist"
_NAMES = itertools.count(1)


@dataclass(frozen=True)
class PgServer:
    port: int

    def url(self, database: str = "postgres", options: str = "") -> str:
        query = f"?options={options}" if options else ""
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}{query}"

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user={USER} dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def new_database(self) -> str:
        name = f"t{os.getpid()}_{next(_NAMES)}"
        self.admin(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name: str) -> None:
        self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def unavailable() -> str | None:
    """Why the PostgreSQL half cannot run here, or None when it can."""
    if not _bindir():
        return (
            "PostgreSQL tests skipped: no initdb under /usr/lib/postgresql/*/bin; install "
            "Debian's `postgresql` package (`make test` does it when run as root)"
        )
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "PostgreSQL tests skipped: psycopg is missing; `pip install -e '.[test]'`"
    return None


@dataclass
class _Running:
    server: PgServer
    root: Path
    data: Path
    bindir: Path
    user: str | None


def start() -> Iterator[PgServer]:
    """initdb, pg_ctl start, yield, pg_ctl stop; as the `postgres` user when we are root."""
    bindir = _bindir()
    assert bindir is not None
    root = Path(tempfile.mkdtemp(prefix="midlist-pg-"))
    root.chmod(0o755)
    data, sockets = root / "data", root / "run"
    data.mkdir()
    sockets.mkdir()
    user = None
    if os.geteuid() == 0:  # initdb refuses to run as root
        user = "postgres"
        entry = pwd.getpwnam(user)
        for path in (data, sockets):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    port = _free_port()
    run = _Running(PgServer(port), root, data, bindir, user)
    _run(run, "initdb", "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync")
    options = (
        f"-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={sockets} "
        f"-c timezone={SERVER_TIMEZONE} -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=200"
    )
    _run(
        run, "pg_ctl", "start", "-w", "-D", str(data), "-l", str(data / "server.log"), "-o", options
    )
    try:
        yield run.server
    finally:
        _run(run, "pg_ctl", "stop", "-D", str(data), "-m", "immediate", check=False)
        shutil.rmtree(root, ignore_errors=True)


def _run(run: _Running, tool: str, *args: str, check: bool = True) -> None:
    command = [str(run.bindir / tool), *args]
    if run.user is not None:
        command = ["runuser", "-u", run.user, "--", *command]
    result = subprocess.run(command, capture_output=True, text=True, cwd=run.root)
    if check and result.returncode != 0:
        raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stderr or result.stdout}")


def _bindir() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3])
    )
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
