"""A clock for `sources.http`: time passes only when something sleeps, and every sleep is kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    def __init__(self, now: datetime = datetime(2024, 5, 6, 12, tzinfo=UTC)):
        self._now = now
        self._monotonic = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self._monotonic

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self._monotonic += seconds
        self._now += timedelta(seconds=seconds)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        """Let time pass without anyone sleeping (a simulated day going by)."""
        self._monotonic += delta.total_seconds()
        self._now += delta
