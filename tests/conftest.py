"""Shared fixtures: a clean environment, a temporary store, and the real data beside the project."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store import Store

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = ROOT.parent / "shared"
SHARED_DATA = SHARED / "data"

_LEAKY = ("MIDLIST_", "SLACK_", "REDDIT_", "SMTP_", "praw_", "S2_")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No developer token or config path leaks into a test."""
    for name in list(os.environ):
        if name.startswith(_LEAKY):
            monkeypatch.delenv(name)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'midlist.db'}")
    yield s
    s.close()


@pytest.fixture
def shared_data() -> Path:
    """The real public data; tests that need it skip cleanly where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside the project")
    return SHARED_DATA
