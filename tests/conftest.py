"""Shared fixtures: a clean environment, a temporary store (SQLite, and PostgreSQL for tests
marked `backends`), and the real data beside the project."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store import Store
from tests import pg

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = ROOT.parent / "shared"
SHARED_DATA = SHARED / "data"

_LEAKY = ("MIDLIST_", "SLACK_", "REDDIT_", "SMTP_", "praw_")


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
