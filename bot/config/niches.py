"""The `niches:` section: what a reader follows, and how its band is drawn."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    Field,
    field_validator,
)

from bot.config.base import Model
from bot.cron import parse_cron
from sources.ids import parse_arxiv_id
from sources.proceedings import venue_key


class Niche(Model):
    # The name goes into Slack button values ("<niche>|<id>") and file names ({niche}).
    name: str = Field(min_length=1, max_length=100)
    keywords: list[str] = Field(min_length=1)
    exclude: list[str] = []
    seeds: list[str] = []
    band: tuple[int, int] | Literal["top"] = (15, 40)
    size: int = Field(7, ge=1, le=200)
    channels: list[str] = []
    schedule: str | None = None  # cron; overrides schedule.digest for this niche
    lookback_days: int | None = Field(None, ge=1, le=365)  # overrides digest.lookback_days
    order: Literal["relevance", "citations", "mentions"] = "relevance"
    venues: list[str] = []  # venue keys (neurips, icml, ...): only papers listed there
    years: tuple[int, int] | None = None  # inclusive, by the year listed or published

    @field_validator("venues")
    @classmethod
    def _venues(cls, venues: list[str]) -> list[str]:
        keys = [venue_key(v) for v in venues]
        if any(not k for k in keys):
            raise ValueError(f"venue names need letters or digits, got {venues!r}")
        return list(dict.fromkeys(keys))

    @field_validator("years", mode="before")
    @classmethod
    def _years(cls, value: Any) -> Any:
        return parse_years(value)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if re.search(r"[|/\\\x00-\x1f]", value):
            raise ValueError(f"{value!r} may not contain |, / or \\ (it names buttons and files)")
        return value

    @field_validator("band", mode="before")
    @classmethod
    def _band(cls, value: Any) -> Any:
        if value == "top":
            return value
        if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*-\s*\d+\s*", value):
            value = [int(part) for part in value.split("-")]
        ok = (
            isinstance(value, (list, tuple))
            and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            and 0 <= value[0] < value[1] <= 100
        )
        if not ok:
            raise ValueError(f'expected two percentages like [15, 40] or "top", got {value!r}')
        return tuple(value)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            parse_cron(value, "UTC")
        return value

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, seeds: list[str]) -> list[str]:
        keys = []
        for seed in seeds:
            parsed = parse_arxiv_id(seed)
            if parsed is None:
                raise ValueError(f"{seed!r} is not an arXiv id like 2312.00752")
            keys.append(parsed.base)
        return keys


def parse_years(value: Any) -> tuple[int, int] | None:
    """[1987, 1997], "1987-1997" or 1995 -> (first, last); raises ValueError saying what is wrong."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value, value]
    if isinstance(value, str):
        parts = [p.strip() for p in value.split("-")]
        if len(parts) == 1:
            parts = parts * 2
        value = [int(p) if p.isdigit() else p for p in parts]
    ok = (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        and 1000 <= value[0] <= value[1] <= 9999
    )
    if not ok:
        raise ValueError(f"expected two years like [1987, 1997] (first <= last), got {value!r}")
    return (int(value[0]), int(value[1]))
