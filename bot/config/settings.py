"""The whole config: schedule, storage, digest defaults and the sections that hold the rest."""

from __future__ import annotations

from datetime import tzinfo
from zoneinfo import ZoneInfo

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from bot.config.base import DEFAULT_DATA_DIR, KeyedError, Model, check_timezone, require_unique
from bot.config.channels import Channel
from bot.config.collecting import Sources
from bot.config.niches import Niche
from bot.cron import parse_cron
from bot.errors import ConfigError


class Schedule(Model):
    # arXiv announces Sunday-Thursday at 20:00 US Eastern; collect a little after.
    collect: str = "30 20 * * sun-thu"
    collect_timezone: str = "America/New_York"
    digest: str = "30 8 * * *"  # in the top-level timezone
    retry: str = "*/30 * * * *"  # resend digests a channel failed to take
    misfire_grace_minutes: int = Field(720, ge=1, le=10_080)  # at most a week
    # How long the leading daemon's lease lasts without renewal: a standby daemon on the same
    # database takes over within this after the leader dies or hangs.
    lease_seconds: float = Field(default=120.0, ge=1)

    @field_validator("collect_timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("collect", "digest", "retry")
    @classmethod
    def _cron(cls, value: str) -> str:
        parse_cron(value, "UTC")  # checked exactly as the scheduler will read it
        return value


class DigestDefaults(Model):
    # A paper is new when it arrived since the last digest and was announced this many days
    # before the digest's date (or on it): a bulk import of history is not news.
    lookback_days: int = Field(7, ge=1, le=365)


class Storage(Model):
    url: str = f"sqlite:///{DEFAULT_DATA_DIR}/midlist.db"
    index_dir: str = f"{DEFAULT_DATA_DIR}/index"


class Settings(Model):
    timezone: str = "UTC"
    storage: Storage = Storage()
    sources: Sources = Sources()
    niches: list[Niche] = []
    channels: dict[str, Channel] = {}
    schedule: Schedule = Schedule()
    digest: DigestDefaults = DigestDefaults()

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("niches")
    @classmethod
    def _unique_niches(cls, niches: list[Niche]) -> list[Niche]:
        require_unique([n.name for n in niches], "niche")
        return niches

    @model_validator(mode="after")
    def _channels_exist(self) -> Settings:
        for i, niche in enumerate(self.niches):
            for name in niche.channels:
                if name not in self.channels:
                    known = ", ".join(sorted(self.channels)) or "none are defined"
                    raise KeyedError(
                        f"niches[{i}].channels", f"no channel named {name!r} (known: {known})"
                    )
        return self

    @property
    def tz(self) -> tzinfo:
        return ZoneInfo(self.timezone)

    def lookback_days(self, niche: Niche) -> int:
        return niche.lookback_days or self.digest.lookback_days

    def niche(self, name: str) -> Niche:
        for niche in self.niches:
            if niche.name == name:
                return niche
        known = ", ".join(n.name for n in self.niches) or "none are configured"
        raise ConfigError(f"no niche named {name!r} (known: {known})")
