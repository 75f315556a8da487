"""The `channels:` section: where digests go (Slack, email, file, feed, console)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from bot.config.base import HeaderText, Model, Secret


class SlackChannel(Model):
    """Either a bot token + channel (chat.postMessage, threads) or an incoming webhook."""

    type: Literal["slack"]
    token: Secret = None
    channel: HeaderText | None = None
    webhook_url: Secret = None
    base_url: HeaderText = "https://slack.com/api/"
    timeout_seconds: float = Field(15.0, gt=0)
    retries: int = Field(3, ge=0, le=100)
    signing_secret: Secret = None  # for `midlist serve` (Save / Skip buttons)
    app_token: Secret = None  # Socket Mode

    @model_validator(mode="after")
    def _one_way_in(self) -> SlackChannel:
        if self.webhook_url is None and not (self.token and self.channel):
            raise ValueError("needs either webhook_url, or both token and channel")
        return self


class EmailChannel(Model):
    type: Literal["email"]
    host: HeaderText
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: HeaderText | None = None
    password: Secret = None
    sender: HeaderText = Field(alias="from")
    to: list[HeaderText] = Field(min_length=1)
    timeout_seconds: float = Field(20.0, gt=0)
    # RFC 5321 4.5.3.2: wait 5 minutes for a reply, 10 for the one after the end of DATA
    reply_timeout_seconds: float = Field(300.0, gt=0, le=3600)
    data_timeout_seconds: float = Field(600.0, gt=0, le=3600)
    retries: int = Field(3, ge=0, le=100)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FileChannel(Model):
    type: Literal["file"]
    path: str  # may contain {date} and {niche}
    format: Literal["markdown", "html"] = "markdown"
    # Permission bits of the written file, in octal ("0640"); default: 0666 less the umask.
    mode: int | None = None

    @field_validator("mode", mode="before")
    @classmethod
    def _octal(cls, value: object) -> object:
        if isinstance(value, str):  # "0640" or "640", as chmod takes it
            try:
                value = int(value, 8)
            except ValueError:
                raise ValueError(f"{value!r} is not an octal file mode like '0644'") from None
        if isinstance(value, int) and not 0 <= value <= 0o777:
            raise ValueError(f"{value:o} is not a file mode: use three octal digits like '0644'")
        return value

    @field_validator("path")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        try:
            value.format(date="", niche="")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"{value!r}: only {{date}} and {{niche}} can be filled in ({exc})"
            ) from exc
        return value


class ConsoleChannel(Model):
    type: Literal["console"]


class FeedChannel(Model):
    """An Atom feed file each digest appends its picks to, for any feed reader."""

    type: Literal["feed"]
    path: str = "feeds/{niche}.xml"  # may contain {niche}
    max_entries: int = Field(200, ge=1, le=10_000)  # older entries drop off the end
    title: str | None = None  # default "midlist · {niche}"; may contain {niche}

    @field_validator("path", "title")
    @classmethod
    def _niche_only(cls, value: str | None) -> str | None:
        try:
            _ = value.format(niche="") if value is not None else None
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"{value!r}: only {{niche}} can be filled in ({exc})") from exc
        return value


Channel = Annotated[
    SlackChannel | EmailChannel | FileChannel | ConsoleChannel | FeedChannel,
    Field(discriminator="type"),
]
