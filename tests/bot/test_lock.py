"""One leader per database: a lease row taken with a compare-and-set, renewed, given up, taken over."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from bot.lock import Leadership
from bot.status import leader, scheduler_line
from bot.store import Store

pytestmark = pytest.mark.backends


def test_first_daemon_leads_and_a_second_stands_by(store: Store) -> None:
    first, second = Leadership(store, 60), Leadership(store, 60)
    assert first.try_lead() and first.leading
    assert not second.try_lead() and not second.leading
    lease = leader(store)
    assert lease is not None and (lease.holder, lease.pid, lease.host) == (
        first.token,
        first.pid,
        first.host,
    )
    assert lease.expires_at - lease.heartbeat_at == timedelta(seconds=60)


def test_renewal_moves_the_heartbeat_but_not_the_start(store: Store) -> None:
    first = Leadership(store, 60)
    assert first.try_lead()
    before = leader(store)
    assert first.try_lead()
    after = leader(store)
    assert before is not None and after is not None
    assert after.acquired_at == before.acquired_at
    assert after.heartbeat_at >= before.heartbeat_at and after.expires_at >= before.expires_at


def test_a_clean_stop_hands_over_at_once(store: Store) -> None:
    first, second = Leadership(store, 60), Leadership(store, 60)
    assert first.try_lead()
    first.release()
    assert leader(store) is None
    assert second.try_lead()


def test_an_expired_lease_is_taken_over_and_its_old_holder_stops_leading(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    hung = Leadership(store, 0.000001)  # stopped renewing: its lease is already over
    assert hung.try_lead()
    standby = Leadership(store, 60)
    assert standby.try_lead()
    new = leader(store)
    assert (
        new is not None
        and new.holder == standby.token
        and new.acquired_at > new.heartbeat_at - timedelta(seconds=1)
    )
    with caplog.at_level(logging.ERROR, logger="bot.lock"):
        assert not hung.try_lead()  # it wakes up: the lease is someone else's now
    assert not hung.leading and "lost the lead" in caplog.text
    hung.release()  # giving up a lease it no longer holds leaves the new leader's alone
    assert leader(store) is not None


def test_status_line_names_the_leader_or_says_it_stopped(store: Store) -> None:
    assert scheduler_line(leader(store)) == "Scheduler: not running"
    live = Leadership(store, 60)
    live.try_lead()
    line = scheduler_line(leader(store))
    assert line.startswith(f"Scheduler: running, led by pid {live.pid} on {live.host} (")
    assert "last heartbeat 20" in line
    live.release()
    dead = Leadership(store, 0.000001)
    dead.try_lead()
    line = scheduler_line(leader(store))
    assert line.startswith(f"Scheduler: not running (the last leader, pid {dead.pid} on ")
    assert "stopped renewing" in line
