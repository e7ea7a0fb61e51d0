"""Per-deployment leases: a lock token with a short expiry on the row, renewed by a heartbeat
while a step runs, and a fence on every write of the step, so two agents never act on one
deployment and a frozen agent that wakes up writes nothing.

* :func:`acquire`, :func:`renew` and :func:`release` are single conditional UPDATEs, atomic on
  SQLite and PostgreSQL.
* :func:`fenced` opens the transaction of a step's write with ``UPDATE … WHERE id = ? AND
  lease_token = ?``: if the token is no longer the row's the step raises :class:`LeaseLost` and
  writes nothing; if it is, the row stays locked (PostgreSQL row lock, SQLite's write lock)
  until the write commits, so nobody can take the lease half-way through it.
* The holder records who it is (:class:`LeaseOwner`: host, boot, pid namespace, pid and process
  start time). A lease whose owner is provably gone (same host, and another boot or no process
  with that pid and start time) is free at once, so a restarted ``flowllama up`` takes back its
  own dead leases without waiting for them to expire. A lease from another host is only freed by
  its expiry.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from flowllama.agent.lease_owner import LeaseOwner, current_owner
from flowllama.db.session import Database
from flowllama.db.tables import Deployment
from flowllama.db.types import new_id, utcnow
from flowllama.errors import ProviderError, StepAbandoned


class LeaseLost(StepAbandoned):
    """Our lease expired and someone else may be acting; stop without writing and without
    calling a provisioner."""


class StepCancelled(ProviderError):
    """The deployment's desired state changed while a long step ran (a model download for a
    deployment now being deleted): the step stops and the reconciler looks at the row again."""


def acquire(db: Database, deployment_id: str, lease_s: float) -> str | None:
    """A fresh lease token, or ``None`` while another live holder's lease holds the row."""
    token = new_id()
    owner = current_owner()
    now = utcnow()
    # Lease bookkeeping leaves ``updated_at`` alone: it says when the deployment last changed.
    values = {"lease_token": token, "lease_expires_at": now + timedelta(seconds=lease_s),
              "lease_owner": owner.encode(), "updated_at": Deployment.updated_at}
    with db.session() as session:
        taken = _rowcount(session.execute(
            update(Deployment)
            .where(Deployment.id == deployment_id,
                   or_(Deployment.lease_token.is_(None), Deployment.lease_expires_at < now))
            .values(**values)))
        if taken:
            return token
        held = session.execute(select(Deployment.lease_token, Deployment.lease_owner)
                               .where(Deployment.id == deployment_id)).first()
        if held is None or held.lease_token is None:
            return None
        holder = LeaseOwner.parse(held.lease_owner)
        if holder is None or not holder.is_gone(owner):
            return None
        taken = _rowcount(session.execute(
            update(Deployment)
            .where(Deployment.id == deployment_id, Deployment.lease_token == held.lease_token)
            .values(**values)))
    return token if taken else None


def renew(db: Database, deployment_id: str, token: str, lease_s: float) -> bool:
    """Extend the lease; ``False`` means it was lost (expired and taken by someone else)."""
    with db.session() as session:
        return _rowcount(session.execute(
            update(Deployment)
            .where(Deployment.id == deployment_id, Deployment.lease_token == token)
            .values(lease_expires_at=utcnow() + timedelta(seconds=lease_s),
                    updated_at=Deployment.updated_at)))


def heartbeat(db: Database, deployment_id: str, token: str, lease_s: float) -> str | None:
    """:func:`renew`, then the deployment's desired state now; ``None`` if the lease is lost."""
    with db.session() as session:
        if not _rowcount(session.execute(
                update(Deployment)
                .where(Deployment.id == deployment_id, Deployment.lease_token == token)
                .values(lease_expires_at=utcnow() + timedelta(seconds=lease_s),
                        updated_at=Deployment.updated_at))):
            return None
        return session.scalar(select(Deployment.desired_state)
                              .where(Deployment.id == deployment_id))


def release(db: Database, deployment_id: str, token: str) -> None:
    with db.session() as session:
        session.execute(
            update(Deployment)
            .where(Deployment.id == deployment_id, Deployment.lease_token == token)
            .values(lease_token=None, lease_expires_at=None, lease_owner=None,
                    updated_at=Deployment.updated_at)
        )


def fence(session: Session, deployment_id: str, token: str) -> None:
    """Lock the row for this transaction if ``token`` still holds it; else :class:`LeaseLost`.

    Must be the transaction's first statement, so everything the step writes after it is
    covered by the lease.
    """
    held = _rowcount(session.execute(
        update(Deployment)
        .where(Deployment.id == deployment_id, Deployment.lease_token == token)
        .values(lease_token=token, updated_at=Deployment.updated_at)))
    if not held:
        raise LeaseLost(f"lease on deployment {deployment_id} was lost")


@contextmanager
def fenced(db: Database, deployment_id: str, token: str | None) -> Iterator[Session]:
    """A session whose writes commit only while ``token`` holds the deployment's lease
    (``None``: no lease is held any more, so :class:`LeaseLost` at once)."""
    if token is None:
        raise LeaseLost(f"lease on deployment {deployment_id} is no longer held")
    with db.session() as session:
        fence(session, deployment_id, token)
        yield session


def free_dead(db: Database) -> list[str]:
    """Release every lease whose owner is provably gone; returns those deployments' ids."""
    here = current_owner()
    with db.session() as session:
        rows = session.execute(select(Deployment.id, Deployment.lease_token,
                                      Deployment.lease_owner)
                               .where(Deployment.lease_token.is_not(None))).all()
    freed = []
    for row in rows:
        holder = LeaseOwner.parse(row.lease_owner)
        if holder is not None and holder.is_gone(here):
            release(db, row.id, row.lease_token)
            freed.append(row.id)
    return freed


class HeldLeases:
    """The leases this process holds right now (deployment id → token), shared by the
    reconciler, its heartbeat and the model-download progress recorder. A lease found lost
    is dropped, so its step ends at its next write, provisioner call or download progress
    report (:class:`LeaseLost`); a lease whose deployment's desired state changed while a step
    ran is marked cancelled, so a long download stops early (:class:`StepCancelled`)."""

    def __init__(self) -> None:
        self._tokens: dict[str, str] = {}
        self._desired: dict[str, str] = {}
        self._cancelled: set[str] = set()
        self._lock = threading.Lock()

    def hold(self, deployment_id: str, token: str) -> None:
        with self._lock:
            self._tokens[deployment_id] = token
            self._cancelled.discard(deployment_id)

    def working_towards(self, deployment_id: str, desired: str) -> None:
        """The desired state the current step of ``deployment_id`` works towards."""
        with self._lock:
            if deployment_id in self._tokens:
                self._desired[deployment_id] = desired
                self._cancelled.discard(deployment_id)

    def token(self, deployment_id: str) -> str | None:
        with self._lock:
            return self._tokens.get(deployment_id)

    def drop(self, deployment_id: str, token: str | None = None) -> bool:
        """Forget the lease (only if it is still ``token``); whether it was held."""
        with self._lock:
            if deployment_id not in self._tokens or \
                    (token is not None and self._tokens[deployment_id] != token):
                return False
            del self._tokens[deployment_id]
            self._desired.pop(deployment_id, None)
            self._cancelled.discard(deployment_id)
            return True

    def take_all(self) -> dict[str, str]:
        with self._lock:
            held, self._tokens = self._tokens, {}
            self._desired.clear()
            self._cancelled.clear()
        return held

    def snapshot(self) -> dict[str, tuple[str, str | None]]:
        """deployment id → (token, desired state of its current step)."""
        with self._lock:
            return {d: (t, self._desired.get(d)) for d, t in self._tokens.items()}

    def cancel(self, deployment_id: str) -> None:
        with self._lock:
            if deployment_id in self._tokens:
                self._cancelled.add(deployment_id)

    def cancelled(self, deployment_id: str) -> bool:
        with self._lock:
            return deployment_id in self._cancelled


def _rowcount(result: object) -> bool:
    return getattr(result, "rowcount", 0) == 1
