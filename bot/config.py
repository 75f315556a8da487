"""config.yaml -> typed, validated settings. The only module that reads the environment.

Errors name the file, the key path and what is wrong, e.g.
`config.yaml: niches[1].band: expected two percentages like [15, 40], got [40, 15]`.
Secrets are `SecretStr`, so printing a settings object never shows them.
"""

from __future__ import annotations

import os
import re
from datetime import tzinfo
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from dotenv import dotenv_values
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot import safe_yaml
from bot.cron import parse_cron
from bot.errors import ConfigError
from bot.logs import remember_secrets, remember_url_password
from sources.ids import parse_arxiv_id
from sources.proceedings import venue_key

CONFIG_ENV = "MIDLIST_CONFIG"
DEFAULT_PATHS = (Path("config.yaml"), Path("~/.config/midlist/config.yaml"))
DEFAULT_DATA_DIR = "~/.local/share/midlist"


# A timeout or delay past a week is a typo (and past ~10^9 s overflows the C timeouts it becomes).
MAX_SECONDS = 7 * 86_400


class Model(BaseModel):
    # No inf/nan: `.inf` would pass `gt=0` and overflow the first socket or sleep it reaches.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*")
    @classmethod
    def _bounded_seconds(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.field_name or ""
        if name.endswith("_seconds") and isinstance(value, int | float) and value > MAX_SECONDS:
            raise ValueError(f"{value} seconds is more than a week; is the unit right?")
        return value


def _header_safe(value: str) -> str:
    """A value that goes into a mail or HTTP header, or an SMTP command, as written."""
    if re.search(r"[\x00-\x1f\x7f]", value):
        raise ValueError(f"{value!r} contains a line break or control character")
    return value


HeaderText = Annotated[str, AfterValidator(_header_safe)]


# `${TOKEN:-}` with TOKEN unset gives "", which means "not set", not "an empty secret".
Secret = Annotated[SecretStr | None, BeforeValidator(lambda v: v or None)]


# ---- sources ---------------------------------------------------------------------------------


class ArxivSource(Model):
    enabled: bool = True
    api_url: str = "https://export.arxiv.org/api/query"  # keyword queries and id look-ups
    oai_url: str = "https://oaipmh.arxiv.org/oai"  # categories, harvested by announcement
    categories: list[str] = []
    queries: list[str] = []
    delay_seconds: float = Field(3.0, ge=0)
    timeout_seconds: float = Field(30.0, gt=0)
    page_size: int = Field(200, ge=1, le=2000)
    max_results: int = Field(2000, ge=1, le=1_000_000)  # per query and run; the first run's depth
    retries: int = Field(4, ge=0, le=100)
    max_bytes: int = Field(100_000_000, ge=1)  # per answer; a longer one fails the request

    @field_validator("categories")
    @classmethod
    def _categories(cls, categories: list[str]) -> list[str]:
        for category in categories:
            if not re.fullmatch(r"[a-z]+(?:-[a-z]+)?(?:\.[A-Za-z-]+)?", category):
                raise ValueError(f"{category!r} is not an arXiv category like cs.LG or hep-th")
        return categories


class RedditSource(Model):
    enabled: bool = False
    client_id: Secret = None
    client_secret: Secret = None
    user_agent: str = "midlist/0.1 (paper discovery bot)"
    base_url: str = "https://oauth.reddit.com"
    auth_url: str = "https://www.reddit.com"
    subreddits: list[str] = ["MachineLearning"]
    thread_pattern: str = r"What Are You Reading|WAYR"
    extra_searches: list[str] = []
    lookback_days: int = Field(30, ge=1, le=3650)
    replace_more_limit: int = Field(32, ge=0, le=10_000)
    timeout_seconds: float = Field(20.0, gt=0)
    retries: int = Field(2, ge=0, le=100)
    max_bytes: int = Field(20_000_000, ge=1)  # per answer

    @field_validator("thread_pattern")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression ({exc})") from exc
        return value

    @model_validator(mode="after")
    def _credentials(self) -> RedditSource:
        if self.enabled and not (self.client_id and self.client_secret):
            raise ValueError(
                "enabled, but client_id and client_secret are not both set "
                "(use ${REDDIT_CLIENT_ID} and ${REDDIT_CLIENT_SECRET})"
            )
        return self


class Feed(Model):
    name: str
    url: str
    kind: Literal["blog", "arxiv-rss", "paper-list"] = "blog"
    announce_types: list[Literal["new", "cross", "replace", "replace-cross"]] = ["new", "cross"]
    timeout_seconds: float = Field(20.0, gt=0)
    max_bytes: int = Field(10_000_000, ge=1)  # a longer feed is read up to here, with a note
    retries: int = Field(2, ge=0, le=100)


class CitationsSource(Model):
    """Semantic Scholar citation counts for the papers that matter (see bot/citations.py)."""

    enabled: bool = False
    base_url: str = "https://api.semanticscholar.org/graph/v1"
    api_key: Secret = None
    refresh_days: float = Field(7.0, gt=0, le=3650)
    delay_seconds: float = Field(1.0, ge=0, le=3600)  # between requests; S2 allows ~1 a second
    timeout_seconds: float = Field(30.0, gt=0, le=3600)
    retries: int = Field(4, ge=0, le=100)
    max_papers: int = Field(5000, ge=1, le=1_000_000)  # looked up per run, most important first


class Sources(Model):
    arxiv: ArxivSource = ArxivSource()
    reddit: RedditSource = RedditSource()
    feeds: list[Feed] = []
    citations: CitationsSource = CitationsSource()

    @field_validator("feeds")
    @classmethod
    def _unique_feed_names(cls, feeds: list[Feed]) -> list[Feed]:
        _require_unique([f.name for f in feeds], "feed")
        return feeds


# ---- niches and channels ---------------------------------------------------------------------


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
        return _check_timezone(value)

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
        return _check_timezone(value)

    @field_validator("niches")
    @classmethod
    def _unique_niches(cls, niches: list[Niche]) -> list[Niche]:
        _require_unique([n.name for n in niches], "niche")
        return niches

    @model_validator(mode="after")
    def _channels_exist(self) -> Settings:
        for i, niche in enumerate(self.niches):
            for name in niche.channels:
                if name not in self.channels:
                    known = ", ".join(sorted(self.channels)) or "none are defined"
                    raise _KeyedError(
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


class _KeyedError(ValueError):
    """A cross-field error that knows the key path it belongs to."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {value!r}; use an IANA name like Europe/Berlin"
        ) from exc
    return value


def _require_unique(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"two {what}s are named {name!r}; names must be unique")
        seen.add(name)


# ---- loading ---------------------------------------------------------------------------------

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`--config PATH`, then $MIDLIST_CONFIG, then ./config.yaml, then ~/.config/midlist/."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV]).expanduser()
    for candidate in DEFAULT_PATHS:
        if candidate.expanduser().exists():
            return candidate.expanduser()
    return DEFAULT_PATHS[0]


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read, substitute ${VAR}s, validate. Raises ConfigError that names file and key."""
    file = find_config(path)
    if not file.exists():
        raise ConfigError(
            f"{file}: no config file here; run `midlist init` to write one, "
            f"or point --config / ${CONFIG_ENV} at yours"
        )
    try:
        raw = safe_yaml.load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where else ""
        raise ConfigError(f"{file}: not valid YAML{line}: {getattr(exc, 'problem', exc)}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8 text ({exc.reason})") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{file}: expected a mapping of keys at the top, got {type(raw).__name__}"
        )
    env = {**dotenv_values(file.parent / ".env"), **os.environ}
    data = _substitute(raw, env, file, "")
    settings = _resolve_paths(parse_settings(data, source=str(file)), file.parent)
    remember_secrets(settings)  # from now on no log line shows them (the daemon reloads, too)
    remember_url_password(settings.storage.url)
    return settings


def parse_settings(data: dict[str, Any], source: str = "config") -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("\n".join(_describe(source, err) for err in exc.errors())) from None


def _describe(source: str, err: Any) -> str:
    path = _key_path(err["loc"])
    ctx_error = err.get("ctx", {}).get("error")
    if isinstance(ctx_error, _KeyedError):
        path = ctx_error.path
    message = str(ctx_error) if ctx_error is not None else err["msg"]
    if err["type"] == "extra_forbidden":
        message = "unknown key (check the spelling against config.example.yaml)"
    elif err["type"] == "missing":
        message = "required key is missing"
    elif err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        path += ".type"
        message = "must be one of slack, email, file, console, feed"
    path = path or "(top level)"
    return f"{source}: {path}: {message}"


def _key_path(loc: tuple[Any, ...]) -> str:
    if len(loc) > 2 and loc[0] == "channels":
        loc = loc[:2] + loc[3:]  # pydantic inserts the channel type; the user never wrote it
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(f".{item}" if parts else str(item))
    return "".join(parts)


def _substitute(value: Any, env: dict[str, str | None], file: Path, path: str) -> Any:
    if isinstance(value, dict):
        return {
            k: _substitute(v, env, file, f"{path}.{k}" if path else str(k))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_substitute(v, env, file, f"{path}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def replace(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        found = env.get(name)
        if found is not None:
            return found
        if default is not None:
            return default
        raise ConfigError(
            f"{file}: {path}: environment variable {name} is not set "
            f"(export it, or put {name}=... in {file.parent / '.env'})"
        )

    return _VAR.sub(replace, value)


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    """Relative paths mean 'beside the config file', never 'wherever the shell happens to be'."""

    def resolve(p: str) -> str:
        path = Path(p).expanduser()
        return str(path if path.is_absolute() else (base / path).resolve())

    url = settings.storage.url
    prefix = "sqlite:///"
    if url.startswith(prefix) and url[len(prefix) :] not in ("", ":memory:"):
        url = prefix + resolve(url[len(prefix) :])
    storage = settings.storage.model_copy(
        update={"url": url, "index_dir": resolve(settings.storage.index_dir)}
    )
    channels = {
        name: ch.model_copy(update={"path": resolve(ch.path)})
        if isinstance(ch, FileChannel | FeedChannel)
        else ch
        for name, ch in settings.channels.items()
    }
    return settings.model_copy(update={"storage": storage, "channels": channels})
