"""Shared fixtures: a clean environment, a temporary store (SQLite, and PostgreSQL for tests
marked `backends`), a config file, the CLI, and the real data beside the project."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import text

from bot.cli import cli
from bot.store import Store, schema
from tests import pg

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = ROOT.parent / "shared"
SHARED_DATA = SHARED / "data"

_LEAKY = ("MIDLIST_", "SLACK_", "REDDIT_", "SMTP_", "praw_", "S2_")


def migrated_from(store: Store, version: int, *undo: str) -> Store:
    """`store` taken back to schema `version` (`undo`: SQL removing what later versions added),
    closed, and opened again, which migrates it to the newest schema."""
    with store.begin() as conn:
        for statement in undo:
            conn.execute(text(statement))
        schema.set_version(conn, version)
    store.close()
    return Store(store.url)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No developer token or config path leaks into a test."""
    for name in list(os.environ):
        if name.startswith(_LEAKY):
            monkeypatch.delenv(name)


BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`store_url` is SQLite; a test marked `backends` runs on SQLite and on PostgreSQL."""
    marked = metafunc.definition.get_closest_marker("backends") is not None
    if marked and "store_url" in metafunc.fixturenames:
        metafunc.parametrize("store_url", BACKENDS, indirect=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pg.PgServer]:
    why = pg.unavailable()
    if why:
        pytest.skip(why)
    yield from pg.start()


@pytest.fixture
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database's URL: a SQLite file, or a fresh database on the test PostgreSQL."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield f"sqlite:///{tmp_path / 'midlist.db'}"
        return
    server: pg.PgServer = request.getfixturevalue("pg_server")
    name = server.new_database()
    try:
        yield server.url(name)
    finally:
        server.drop_database(name)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = Store(store_url)
    yield s
    s.close()


@pytest.fixture
def shared_data() -> Path:
    """The real public data; tests that need it skip cleanly where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside the project")
    return SHARED_DATA


def merged(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `overrides` laid over it: mappings merge key by key, any other value replaces
    the base's, and None removes the key."""
    out = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


ConfigFile = Callable[..., Path]


@pytest.fixture
def config_file(tmp_path: Path) -> ConfigFile:
    """Writes `config.yaml` into `tmp_path` (or the directory given first) and returns its path:
    a valid config whose store is the `store` fixture's SQLite file, with one niche (`ssm`)
    delivered to the console. Keyword arguments are top-level keys deep-merged over that base
    (see `merged`)."""

    def write(directory: Path = tmp_path, /, **overrides: Any) -> Path:
        base = {
            "storage": {"url": f"sqlite:///{tmp_path / 'midlist.db'}", "index_dir": "index"},
            "niches": [{"name": "ssm", "keywords": ["state space model"], "channels": ["console"]}],
            "channels": {"console": {"type": "console"}},
        }
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "config.yaml"
        path.write_text(yaml.safe_dump(merged(base, overrides), sort_keys=False), encoding="utf-8")
        return path

    return write


@dataclass(frozen=True)
class CliRun:
    """What one `midlist` invocation left behind; unpacks as `code, output = run_cli(...)`."""

    exit_code: int
    output: str  # stdout and stderr interleaved, as a terminal shows them
    stdout: str
    stderr: str

    def __iter__(self) -> Iterator[Any]:
        return iter((self.exit_code, self.output))


def run_cli(config: Path | None, *args: str, env: Mapping[str, str] | None = None) -> CliRun:
    """`midlist --config CONFIG ARGS...` in this process (no `--config` when `config` is None)."""
    head = ["--config", str(config)] if config is not None else []
    result = CliRunner().invoke(cli, [*head, *args], env=env)
    return CliRun(result.exit_code, result.output, result.stdout, result.stderr)
