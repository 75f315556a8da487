"""Leases: which process leads the work of one database, across machines.

A lease row names its holder (a token unique to one process, plus host and pid for people)
and when it expires. It is taken with a compare-and-set (insert it if absent, else take it
over only if it is ours or has expired) and renewed by its holder well before it expires; a
holder that dies or hangs stops renewing, and the next taker finds it expired. Times come
from the clocks of the machines involved, so they should run NTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, literal, or_, select

from bot.store.db import Database
from bot.store.engine import insert_for
from bot.store.schema import leases
from bot.store.times import aware, now


@dataclass(frozen=True, slots=True)
class Lease:
    name: str
    holder: str
    host: str
    pid: int
    acquired_at: datetime
    heartbeat_at: datetime
    expires_at: datetime

    def live(self, at: datetime | None = None) -> bool:
        return self.expires_at > (at or now())


class LeaseRepo:
    def __init__(self, db: Database):
        self._db = db

    def acquire(self, name: str, holder: str, host: str, pid: int, ttl: timedelta) -> bool:
        """Take the lease, or renew it if `holder` has it; False while another holder's is live."""
        stamp = now()
        values = {"holder": holder, "host": host, "pid": pid, "heartbeat_at": stamp}
        with self._db.begin() as conn:
            inserted = conn.execute(
                insert_for(conn, leases)
                .values(name=name, acquired_at=stamp, expires_at=stamp + ttl, **values)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            if inserted.rowcount == 1:
                return True
            taken = conn.execute(
                leases.update()
                .where(
                    leases.c.name == name,
                    or_(leases.c.holder == holder, leases.c.expires_at <= stamp),
                )
                .values(
                    acquired_at=case(
                        (leases.c.holder == holder, leases.c.acquired_at),
                        else_=literal(stamp, leases.c.acquired_at.type),
                    ),
                    expires_at=stamp + ttl,
                    **values,
                )
            )
            return taken.rowcount == 1

    def release(self, name: str, holder: str) -> None:
        """Give the lease up at once (a clean stop), if `holder` still has it."""
        with self._db.begin() as conn:
            conn.execute(leases.delete().where(leases.c.name == name, leases.c.holder == holder))

    def get(self, name: str) -> Lease | None:
        with self._db.connect() as conn:
            row = conn.execute(select(leases).where(leases.c.name == name)).first()
        if row is None:
            return None
        return Lease(
            row.name,
            row.holder,
            row.host,
            row.pid,
            aware(row.acquired_at),  # type: ignore[arg-type]
            aware(row.heartbeat_at),  # type: ignore[arg-type]
            aware(row.expires_at),  # type: ignore[arg-type]
        )
