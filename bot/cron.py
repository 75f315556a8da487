"""Crontab lines as zone-aware APScheduler triggers, read the way crontab reads them.

Its own module so the config can check every cron field without importing the scheduler.
"""

from __future__ import annotations

import re

from apscheduler.triggers.cron import CronTrigger

_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def parse_cron(expr: str, timezone: str) -> CronTrigger:
    """A crontab line (weekdays as in crontab: 0 or 7 is Sunday) as a zone-aware trigger.

    APScheduler 3 reads weekday numbers with 0 as Monday and rejects `sun-thu`, so the weekday
    field is expanded here into names before it reaches the trigger.
    """
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(
            f"{expr!r} is not a crontab line; expected 5 fields "
            f"(minute hour day month weekday), e.g. '30 8 * * mon-fri'"
        )
    if not fields[2].startswith(("*", "?")) and not fields[4].startswith(("*", "?")):
        # crontab fires when either field matches; APScheduler only when both do.
        raise ValueError(
            f"{expr!r} restricts both the day of the month and the weekday: crontab would run "
            f"it on either, which one trigger cannot express; keep one of them as '*'"
        )
    try:
        return CronTrigger(
            minute=fields[0],
            hour=fields[1],
            day=fields[2],
            month=fields[3],
            day_of_week=_weekdays(fields[4]),
            timezone=timezone,
        )
    except ValueError as exc:
        raise ValueError(f"{expr!r} is not a valid crontab line: {exc}") from exc


def _weekdays(spec: str) -> str:
    if spec in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in spec.lower().split(","):
        m = re.fullmatch(r"(\*|[a-z0-9]+)(?:-([a-z0-9]+))?(?:/(\d+))?", part)
        if not m:
            raise ValueError(f"cannot read the weekday field {part!r}")
        first, last, step = m.group(1), m.group(2), int(m.group(3) or 1)
        if step < 1:
            raise ValueError(f"a weekday step must be at least 1 in {part!r}")
        if first == "*":
            if last:
                raise ValueError(f"cannot read the weekday field {part!r}")
            start, end = 0, 6
        else:
            start = _day(first) % 7
            end = _day(last) if last else (6 if m.group(3) else start)
        span = end - start if end >= start else end + 7 - start  # fri-mon wraps past Saturday
        days.update((start + i) % 7 for i in range(0, span + 1, step))
    return ",".join(_DAYS[d] for d in sorted(days))


def _day(token: str) -> int:
    """0-7 (0 and 7 are Sunday, as in crontab) or a name; 7 is kept so `1-7` means Mon-Sun."""
    if token.isdigit() and 0 <= int(token) <= 7:
        return int(token)
    if len(token) >= 3 and token[:3] in _DAYS:
        return _DAYS.index(token[:3])
    raise ValueError(f"{token!r} is not a weekday (0-7 or sun, mon, ... sat)")
