"""What every config model shares: strict models, bounded seconds, header-safe text, secrets.

Also the validators that several sections use, so each section module imports only this one.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    SecretStr,
    ValidationInfo,
    field_validator,
)

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


def header_safe(value: str) -> str:
    """A value that goes into a mail or HTTP header, or an SMTP command, as written."""
    if re.search(r"[\x00-\x1f\x7f]", value):
        raise ValueError(f"{value!r} contains a line break or control character")
    return value


HeaderText = Annotated[str, AfterValidator(header_safe)]


# `${TOKEN:-}` with TOKEN unset gives "", which means "not set", not "an empty secret".
Secret = Annotated[SecretStr | None, BeforeValidator(lambda v: v or None)]


class KeyedError(ValueError):
    """A cross-field error that knows the key path it belongs to."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path


def check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {value!r}; use an IANA name like Europe/Berlin"
        ) from exc
    return value


def require_unique(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"two {what}s are named {name!r}; names must be unique")
        seen.add(name)
