"""One leading daemon per database, across machines: a lease row in the database itself.

The leader renews its lease every third of the lease time; a standby daemon on another
machine (or the same one) tries to take it every tenth, and gets it once the lease has
expired: within one lease time after the leader died, hung or lost the database. A leader
that cannot renew before its own lease ends stops scheduling at once, so two daemons never
both run jobs. A clean stop gives the lease up, so a standby takes over without waiting.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import timedelta

from bot.store import Store
from bot.store.leases import Lease
from bot.store.times import now

log = logging.getLogger(__name__)

SCHEDULER_LEASE = "scheduler"


class Leadership:
    """This process's claim to lead the schedule of `store`."""

    def __init__(self, store: Store, lease_seconds: float, name: str = SCHEDULER_LEASE):
        self.store = store
        self.name = name
        self.ttl = timedelta(seconds=lease_seconds)
        self.token = uuid.uuid4().hex
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.leading = False
        self._held_until = now()

    @property
    def renew_every(self) -> float:
        return self.ttl.total_seconds() / 3

    @property
    def poll_every(self) -> float:
        return self.ttl.total_seconds() / 10

    def try_lead(self) -> bool:
        """Take or renew the lease. A failed renewal keeps leadership until the lease runs out."""
        started = now()
        try:
            held = self.store.leases.acquire(self.name, self.token, self.host, self.pid, self.ttl)
        except Exception as exc:  # the database may be briefly away; the lease decides
            log.warning("could not reach the lease in the database: %s", exc)
            held = self.leading and now() < self._held_until
        else:
            if held:
                self._held_until = started + self.ttl
        if self.leading and not held:
            log.error("lost the lead of this database; stopping the schedule here")
        self.leading = held
        return held

    def holder(self) -> Lease | None:
        """Who holds the lease now, for the log; None when nobody does or it cannot be read."""
        try:
            return self.store.leases.get(self.name)
        except Exception as exc:
            log.warning("could not read the lease from the database: %s", exc)
            return None

    def release(self) -> None:
        """Give the lease up on a clean stop; if the database is away, it simply expires."""
        if not self.leading:
            return
        self.leading = False
        try:
            self.store.leases.release(self.name, self.token)
        except Exception as exc:
            log.warning("could not give up the lease (it expires on its own): %s", exc)


def describe(lease: Lease) -> str:
    return f"pid {lease.pid} on {lease.host}, last heartbeat {lease.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC"
