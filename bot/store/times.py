"""Timestamps at the database boundary: aware UTC in, aware UTC out, whatever the server's zone.

PostgreSQL stores `timestamptz`; a naive value bound to it would be read in the session's
TimeZone and shift by hours, so every value is bound aware. SQLite has no time type: values are
ISO strings with a fixed width and an explicit `+00:00`, so they sort and compare as text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, overload

from sqlalchemy import DateTime, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


def now() -> datetime:
    return datetime.now(UTC)


@overload
def aware(dt: datetime) -> datetime: ...
@overload
def aware(dt: None) -> None: ...
def aware(dt: datetime | None) -> datetime | None:
    """The same instant as aware UTC; a naive value is taken to be UTC already."""
    if dt is None or dt.tzinfo is UTC:
        return dt
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


# The names callers have used at the boundary; both now mean "aware UTC".
to_db = aware
from_db = aware


class UTCDateTime(TypeDecorator[datetime]):
    """`DateTime(timezone=True)` that is always written and read as aware UTC.

    On SQLite the text has a fixed width (microseconds always present), so text order is time
    order and SQL comparisons work."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        utc = aware(value)
        assert utc is not None
        if dialect.name != "sqlite":
            return utc
        return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "+00:00"

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite
            value = datetime.fromisoformat(value)
        return aware(value)
