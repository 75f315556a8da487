"""config.yaml -> typed, validated settings. The only module that reads the environment.

Errors name the file, the key path and what is wrong, e.g.
`config.yaml: niches[1].band: expected two percentages like [15, 40], got [40, 15]`.
Secrets are `SecretStr`, so printing a settings object never shows them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from dotenv import dotenv_values
from pydantic import ValidationError

from bot import safe_yaml
from bot.config.base import KeyedError, Model
from bot.config.channels import (
    Channel,
    ConsoleChannel,
    EmailChannel,
    FeedChannel,
    FileChannel,
    SlackChannel,
)
from bot.config.collecting import ArxivSource, CitationsSource, Feed, RedditSource, Sources
from bot.config.niches import Niche, parse_years
from bot.config.settings import DigestDefaults, Schedule, Settings, Storage
from bot.errors import ConfigError
from bot.logs import remember_secrets, remember_url_password

__all__ = [
    "ArxivSource",
    "Channel",
    "CitationsSource",
    "ConsoleChannel",
    "DigestDefaults",
    "EmailChannel",
    "Feed",
    "FeedChannel",
    "FileChannel",
    "Model",
    "Niche",
    "RedditSource",
    "Schedule",
    "Settings",
    "SlackChannel",
    "Sources",
    "Storage",
    "find_config",
    "load_settings",
    "parse_settings",
    "parse_years",
]

CONFIG_ENV = "MIDLIST_CONFIG"
DEFAULT_PATHS = (Path("config.yaml"), Path("~/.config/midlist/config.yaml"))


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
    if isinstance(ctx_error, KeyedError):
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
