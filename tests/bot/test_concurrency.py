"""Several real processes on one database (SQLite and PostgreSQL): nothing sent twice, nothing lost.

Four `midlist digest` at once, two imports of one file at once, four first opens of an empty
database, and two daemons with their own configs and index dirs: one leads, the other takes
over when the leader is SIGKILLed. Deliveries are counted where they land, at a local fake Slack.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.config import load_settings
from bot.importer import import_snapshot
from bot.scheduler import plan, started
from bot.status import leader
from bot.store import Store, schema
from bot.store.schema import deliveries, digests, papers
from tests.conftest import FIXTURES, ROOT, ConfigFile
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.backends

DAY = "2026-11-19"
ENV = {k: v for k, v in os.environ.items() if not k.startswith("MIDLIST_")}


def write_config(
    config_file: ConfigFile, directory: Path, url: str, hook: str, lease_seconds: float = 60
) -> Path:
    return config_file(
        directory,
        timezone="UTC",
        storage={"url": url, "index_dir": str(directory / "index")},
        sources={"arxiv": {"enabled": False}},
        niches=[{"name": "moe", "keywords": ["experts"], "band": "top", "channels": ["team"]}],
        channels={"team": {"type": "slack", "webhook_url": hook}},
        schedule={"lease_seconds": lease_seconds},
    )


def midlist_at_once(*commands: list[str]) -> list[subprocess.CompletedProcess[str]]:
    """Start every `midlist` command before waiting for any: they meet on the database."""
    return python_at_once(*(["-m", "bot", *args] for args in commands))


def python_at_once(*commands: list[str]) -> list[subprocess.CompletedProcess[str]]:
    """Start every Python command before waiting for any."""
    running = [
        subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    done = []
    for proc in running:
        out, err = proc.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def scalar(store: Store, query: object) -> object:
    with store.connect() as conn:
        return conn.execute(query).scalar()  # type: ignore[call-overload]


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def test_four_digests_at_once_deliver_once(
    store_url: str, tmp_path: Path, config_file: ConfigFile, slack: FakeSlack
) -> None:
    store = Store(store_url)
    import_snapshot(announced_before(DAY, tmp_path / "full.jsonl"), store)
    config = write_config(config_file, tmp_path, store_url, slack.webhook_url)
    # Build the index once, so the four below only read it.
    warm = midlist_at_once(["--config", str(config), "digest", "--dry-run", "--date", DAY])
    assert warm[0].returncode == 0, warm[0].stderr

    args = ["--config", str(config), "digest", "--niche", "moe", "--date", DAY]
    results = midlist_at_once(args, args, args, args)

    assert [r.returncode for r in results] == [0, 0, 0, 0], [r.stderr for r in results]
    said = [r.stderr for r in results]
    assert sum("moe -> team: sent" in s for s in said) == 1, said
    assert sum(("in-progress" in s) or ("already-sent" in s) for s in said) == 3, said
    assert len(slack.messages) == 1  # what the channel received
    assert "Sparse mixtures of tiny experts" in json.dumps(slack.messages[0].blocks)
    assert scalar(store, select(func.count()).select_from(digests)) == 1
    assert scalar(store, select(digests.c.status)) == "sent"
    assert scalar(store, select(func.count()).select_from(deliveries)) == 1
    print(f"\n[{store.dialect}] 4 concurrent digests: {len(slack.messages)} delivery")
    store.close()


def announced_before(day: str, path: Path) -> Path:
    """The snapshot fixture as listed the day before `day` (no version dates, so that is its
    date): a digest takes only papers announced lately; an import of older history is not news."""
    before = (datetime.fromisoformat(day) - timedelta(days=1)).date().isoformat()
    lines = (FIXTURES / "snapshot" / "full.jsonl").read_text(encoding="utf-8").splitlines()
    path.write_text(
        "".join(
            json.dumps({**json.loads(line), "update_date": before, "versions": []}) + "\n"
            for line in lines
        ),
        encoding="utf-8",
    )
    return path


def snapshot_file(path: Path, n: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            out.write(
                json.dumps(
                    {
                        "id": f"2501.{i:05d}",
                        "title": f"Paper {i} on sparse experts",
                        "authors": "Ada Quill and Bo Renn",
                        "categories": "cs.LG",
                        "abstract": f"Abstract {i}.",
                        "versions": [{"version": "v1", "created": "Mon, 6 Jan 2025 10:00:00 GMT"}],
                        "update_date": "2025-01-07",
                    }
                )
                + "\n"
            )
    return path


def test_two_imports_of_one_file_at_once_both_succeed(
    store_url: str, tmp_path: Path, config_file: ConfigFile
) -> None:
    Store(store_url).close()  # the schema exists; the two imports race on the rows
    snapshot = snapshot_file(tmp_path / "snap.jsonl", 6000)
    config = write_config(config_file, tmp_path, store_url, "http://127.0.0.1:9/unused")
    args = ["--config", str(config), "import", str(snapshot)]
    results = midlist_at_once(args, args)
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    store = Store(store_url)
    assert store.papers.count() == 6000
    outputs = " | ".join(r.stdout.strip().splitlines()[-1] for r in results)
    print(f"\n[{store.dialect}] 2 concurrent imports: {outputs}")
    store.close()


OPEN = """
import sys, time
from bot.store import Store
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
Store(sys.argv[1]).close()
print("opened")
"""


def test_four_first_opens_of_an_empty_database_all_succeed(store_url: str) -> None:
    start = str(time.time() + 1.5)  # all four reach the empty database at the same moment
    done = python_at_once(*[["-c", OPEN, store_url, start]] * 4)
    assert [p.returncode for p in done] == [0, 0, 0, 0], [p.stderr for p in done]
    store = Store(store_url)
    with store.connect() as conn:
        assert schema.current_version(conn) == schema.SCHEMA_VERSION
    assert store.papers.count() == 0
    store.close()


class Daemon:
    """`midlist run` in its own process, its log lines collected as they come."""

    def __init__(self, config: Path):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "--config", str(config), "run"],
            cwd=ROOT,
            env=ENV,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[tuple[float, str]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append((time.monotonic(), line))

    def wait_for(self, text: str, timeout: float = 60) -> float:
        """When the line containing `text` was logged (monotonic clock)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, line in list(self.lines):
                if text in line:
                    return at
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"no {text!r} in the log:\n{self.log()}")

    def log(self) -> str:
        return "".join(line for _, line in self.lines)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        self._reader.join(timeout=10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def test_two_daemons_on_one_database_one_leads_and_the_other_takes_over(
    store_url: str, tmp_path: Path, config_file: ConfigFile, slack: FakeSlack
) -> None:
    store = Store(store_url)
    import_snapshot(FIXTURES / "snapshot" / "full.jsonl", store)
    first = write_config(
        config_file, tmp_path / "machine-a", store_url, slack.webhook_url, lease_seconds=3
    )
    second = write_config(
        config_file, tmp_path / "machine-b", store_url, slack.webhook_url, lease_seconds=3
    )
    settings = load_settings(first)
    # Both daemons were down when the morning digest was due: the leader catches it up on start.
    with started(settings, store, plan(settings)) as scheduler:
        scheduler.pause()
        scheduler.modify_job("digest", next_run_time=datetime.now(UTC) - timedelta(minutes=1))

    a = Daemon(first)
    b: Daemon | None = None
    try:
        a.wait_for("scheduler running, leading this database")
        b = Daemon(second)
        b.wait_for(f"standby: pid {a.proc.pid} on ")
        a.wait_for("job digest ok")
        lease = leader(store)
        assert lease is not None and lease.pid == a.proc.pid
        assert len(slack.messages) == 1

        a.proc.send_signal(signal.SIGKILL)  # the leader's machine dies: no clean hand-over
        killed = time.monotonic()
        a.proc.wait(timeout=10)
        took_over = b.wait_for("scheduler running, leading this database", timeout=30)
        failover = took_over - killed
        lease = leader(store)
        assert lease is not None and lease.pid == b.proc.pid
        assert "taking over" in b.log() and "job digest started" not in b.log()
        assert len(slack.messages) == 1  # the digest the dead leader sent is not sent again
        assert scalar(store, select(func.count()).select_from(papers)) == 3
        print(
            f"\n[{store.dialect}] two daemons: 1 leader; failover after SIGKILL in "
            f"{failover:.1f} s (lease 3 s); deliveries {len(slack.messages)}"
        )
    finally:
        a.stop()
        if b is not None:
            b.stop()
        store.close()


MENTION = """
import sys, time
from bot.store import Store
from sources.models import Mention
store = Store(sys.argv[1])
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
seen = [
    Mention(paper_id=f"2502.{i:05d}", source="reddit", external_id=f"c{i}", who=f"u{i % 7}")
    for i in range(3000)
]
for at in range(0, len(seen), 500):
    store.papers.add_mentions(seen[at : at + 500])
store.close()
print("stored")
"""


def test_two_collectors_recording_the_same_mentions_both_succeed(store_url: str) -> None:
    Store(store_url).close()
    start = str(time.time() + 1.5)
    done = python_at_once(*[["-c", MENTION, store_url, start]] * 2)
    assert [p.returncode for p in done] == [0, 0], [p.stderr for p in done]
    store = Store(store_url)
    assert store.papers.count() == 3000  # one placeholder row per paper
    assert sum(store.papers.mention_counts().values()) == 3000  # one row per sighting
    store.close()
