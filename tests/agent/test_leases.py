"""Row leases: one holder at a time, renewal only by the holder, expiry frees the row, a
holder provably gone frees it at once, every fenced write needs the current token, and the
heartbeat drops lost leases and cancels steps whose deployment is no longer wanted."""

from __future__ import annotations

import dataclasses
import subprocess
from datetime import timedelta

import pytest

from flowllama.agent import leases
from flowllama.agent.lease_owner import LeaseOwner, current_owner, describe
from flowllama.agent.reconciler import Reconciler
from flowllama.db.session import Database
from flowllama.db.tables import Deployment, User
from flowllama.db.types import utcnow
from flowllama.providers.registry import ProvisionerRegistry


def _deployment(database: Database) -> str:
    with database.session() as session:
        user = User(email="ops@example.com", password_hash="x")
        session.add(user)
        session.flush()
        row = Deployment(user_id=user.id, name="chat", model="local/tiny", context_size=512)
        session.add(row)
        session.flush()
        return row.id


def test_one_holder_at_a_time(database: Database) -> None:
    deployment_id = _deployment(database)
    token = leases.acquire(database, deployment_id, 60)
    assert token is not None
    assert leases.acquire(database, deployment_id, 60) is None
    assert leases.renew(database, deployment_id, token, 60)
    assert not leases.renew(database, deployment_id, "someone-else", 60)
    leases.release(database, deployment_id, "someone-else")  # not theirs: nothing happens
    assert leases.acquire(database, deployment_id, 60) is None
    leases.release(database, deployment_id, token)
    assert leases.acquire(database, deployment_id, 60) is not None


def test_an_expired_lease_is_taken_over_and_the_old_holder_loses_it(database: Database) -> None:
    deployment_id = _deployment(database)
    stale = leases.acquire(database, deployment_id, -1)  # already expired: a dead agent's
    assert stale is not None
    fresh = leases.acquire(database, deployment_id, 60)
    assert fresh is not None and fresh != stale
    assert not leases.renew(database, deployment_id, stale, 60)
    assert leases.renew(database, deployment_id, fresh, 60)


def test_a_missing_row_cannot_be_leased(database: Database) -> None:
    assert leases.acquire(database, "no-such-deployment", 60) is None


def _held_by(database: Database, deployment_id: str, owner: LeaseOwner) -> None:
    """A live (unexpired) lease of ``owner`` on the row."""
    with database.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        row.lease_token, row.lease_owner = "their-token", owner.encode()
        row.lease_expires_at = utcnow() + timedelta(seconds=600)


def _message(database: Database, deployment_id: str) -> str | None:
    with database.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        return row.status_message


def test_a_fenced_write_needs_the_current_token(database: Database) -> None:
    deployment_id = _deployment(database)
    token = leases.acquire(database, deployment_id, -1)  # expired at once
    assert token is not None
    with leases.fenced(database, deployment_id, token) as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        row.status_message = "ours"
    assert leases.acquire(database, deployment_id, 60) is not None  # someone else now
    with pytest.raises(leases.LeaseLost), leases.fenced(database, deployment_id, token) as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        row.status_message = "stale"
    with pytest.raises(leases.LeaseLost), leases.fenced(database, deployment_id, None):
        pass
    assert _message(database, deployment_id) == "ours"


def test_the_lease_of_a_dead_holder_on_this_host_is_free_at_once(database: Database) -> None:
    deployment_id = _deployment(database)
    holder = subprocess.Popen(["sleep", "60"])
    try:
        _held_by(database, deployment_id, describe(holder.pid))
        assert leases.acquire(database, deployment_id, 60) is None  # alive: busy
        assert leases.free_dead(database) == []
    finally:
        holder.kill()
        holder.wait()
    token = leases.acquire(database, deployment_id, 60)  # gone: taken without waiting
    assert token is not None
    with database.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None and row.lease_owner == current_owner().encode()


def test_a_reused_pid_does_not_keep_a_lease(database: Database) -> None:
    deployment_id = _deployment(database)
    me = current_owner()
    _held_by(database, deployment_id, dataclasses.replace(me, start_time=me.start_time + 1))
    assert leases.free_dead(database) == [deployment_id]
    assert leases.acquire(database, deployment_id, 60) is not None


@pytest.mark.parametrize("elsewhere", [
    {"host": "another-host"}, {"boot_id": "another-boot"}, {"pid_namespace": "4026531999"},
])
def test_a_holder_elsewhere_is_never_presumed_gone(database: Database,
                                                   elsewhere: dict[str, str]) -> None:
    deployment_id = _deployment(database)
    dead_here = dataclasses.replace(current_owner(), pid=2**22 + 1)  # no such process here
    _held_by(database, deployment_id, dataclasses.replace(dead_here, **elsewhere))
    assert leases.acquire(database, deployment_id, 60) is None
    assert leases.free_dead(database) == []


def test_owner_round_trips_and_garbage_is_never_gone() -> None:
    me = current_owner()
    assert LeaseOwner.parse(me.encode()) == me
    assert not me.is_gone(me)
    assert LeaseOwner.parse("whatever") is None
    assert LeaseOwner.parse(None) is None


def test_the_heartbeat_drops_lost_leases_and_cancels_unwanted_steps(database: Database) -> None:
    reconciler = Reconciler(database, ProvisionerRegistry(), lease_s=60)
    wanted, lost = _deployment(database), _second_deployment(database)
    for deployment_id in (wanted, lost):
        token = leases.acquire(database, deployment_id, 60)
        assert token is not None
        reconciler.held.hold(deployment_id, token)
        reconciler.held.working_towards(deployment_id, "running")
    _held_by(database, lost, current_owner())  # taken over meanwhile
    assert reconciler.renew_held() == [lost]
    assert reconciler.held.token(lost) is None
    assert not reconciler.held.cancelled(wanted)
    with database.session() as session:
        row = session.get(Deployment, wanted)
        assert row is not None
        row.desired_state = "deleted"
    assert reconciler.renew_held() == []
    assert reconciler.held.cancelled(wanted)


def _second_deployment(database: Database) -> str:
    with database.session() as session:
        user = User(email="other@example.com", password_hash="x")
        session.add(user)
        session.flush()
        row = Deployment(user_id=user.id, name="chat", model="local/tiny", context_size=512)
        session.add(row)
        session.flush()
        return row.id
