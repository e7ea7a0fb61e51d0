"""What every step of the reconciler shares: the row snapshot, the step outcome, the fenced
write, status moves and events, and the provisioner look-ups.

Rules (``docs/agent.md``): every write of a step is fenced by the step's lease token, and every
provisioner side effect (create, destroy, forget) is preceded by a lease check, so a step that
lost its lease stops without writing and without touching a server; no provisioner call runs
inside a database transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from flowllama.agent import leases
from flowllama.agent.leases import HeldLeases, LeaseLost
from flowllama.agent.placement import (
    PROVISIONER_BY_CLOUD,
    placements_for,
    provisioner_kind,
)
from flowllama.db.session import Database
from flowllama.db.tables import Deployment, Instance
from flowllama.db.types import utcnow
from flowllama.domain.lifecycle import Status
from flowllama.errors import ConfigError
from flowllama.logging import get_logger
from flowllama.providers.base import Handle, Placement, Provisioner, ResourceState, Unsupported
from flowllama.providers.registry import ProvisionerRegistry
from flowllama.services.deployment_status import change_status_and_notify, record_event

log = get_logger(__name__)


class Outcome(StrEnum):
    DONE = "done"  # the row matches its desired state (or is gone)
    WAIT = "wait"  # something external must happen first; reconcile again later
    BUSY = "busy"  # another agent holds the lease


@dataclass(frozen=True)
class Snapshot:
    """The deployment row and its live (not terminated) instance rows, read at step start."""

    deployment: Deployment
    instances: list[Instance]

    @property
    def active(self) -> list[Instance]:
        """The instances not draining (serving, or starting)."""
        return [i for i in self.instances if i.draining_since is None]

    @property
    def draining(self) -> list[Instance]:
        """The instances being drained before they are destroyed."""
        return [i for i in self.instances if i.draining_since is not None]


Step = Callable[[Snapshot], Outcome | None]


@dataclass(frozen=True, kw_only=True)
class DrainPolicy:
    """When a draining server may go (``docs/autopilot.md``, "Replacement without a gap").

    Not before ``settle_s``: the gateways' route caches (``route_ttl_s``) may send it new
    requests until then, and such a request shows in their load reports only at their next
    report (every ``report_interval_s``; two, for a margin). After that, once no fresh report
    (younger than three intervals) has a request in flight on it; or after ``timeout_s``
    whatever the reports say.
    """

    timeout_s: float = 120.0
    route_ttl_s: float = 2.0
    report_interval_s: float = 2.0

    @property
    def settle_s(self) -> float:
        """The least time a server drains."""
        return self.route_ttl_s + 2 * self.report_interval_s

    @property
    def stale_s(self) -> float:
        """Load reports older than this count as nothing in flight (their gateway is gone)."""
        return 3 * self.report_interval_s


class StepBase:
    """The shared state and helpers of the reconciler's steps (see the module doc)."""

    def __init__(self, db: Database, registry: ProvisionerRegistry, *, lease_s: float,
                 kinds: Mapping[str, str] = PROVISIONER_BY_CLOUD,
                 held: HeldLeases | None = None, drain: DrainPolicy | None = None) -> None:
        self.db = db
        self.registry = registry
        self.lease_s = lease_s
        self.kinds = kinds
        self.held = held or HeldLeases()
        self.drain = drain or DrainPolicy()
        self._stopping = threading.Event()

    @contextmanager
    def _write(self, deployment_id: str) -> Iterator[Session]:
        """A session for one write of a step, fenced by the step's lease token."""
        with leases.fenced(self.db, deployment_id, self.held.token(deployment_id)) as session:
            yield session

    def _load(self, deployment_id: str) -> Snapshot | None:
        with self.db.session() as session:
            deployment = session.get(Deployment, deployment_id)
            if deployment is None:
                return None
            rows = session.scalars(select(Instance).where(
                Instance.deployment_id == deployment_id, Instance.terminated_at.is_(None))
                .order_by(Instance.created_at, Instance.id)).all()
            return Snapshot(deployment, list(rows))

    def _move(self, deployment_id: str, target: Status, reason: str,
              message: str | None = None, data: dict[str, Any] | None = None) -> None:
        with self._write(deployment_id) as session:
            deployment = session.get(Deployment, deployment_id)
            assert deployment is not None
            change_status_and_notify(session, deployment, target, reason, message=message,
                                     data=data)
            if target is Status.DELETED:
                deployment.deleted_at = utcnow()

    def _note(self, deployment_id: str, reason: str, data: dict[str, Any]) -> None:
        with self._write(deployment_id) as session:
            deployment = session.get(Deployment, deployment_id)
            assert deployment is not None
            record_event(session, deployment, reason, data)
        log.info("agent.note", deployment_id=deployment_id, reason=reason)

    def _check_lease(self, deployment_id: str) -> None:
        """Renew the step's lease, or raise :class:`LeaseLost` (and drop it) when the row's
        token is no longer ours. Called right before each provisioner side effect: a database
        fence cannot cover a cloud call, and an agent frozen past its lease must not destroy or
        create a server that the new holder now owns."""
        token = self.held.token(deployment_id)
        if token is None or not leases.renew(self.db, deployment_id, token, self.lease_s):
            if token is not None:
                self.held.drop(deployment_id, token)
            log.warning("agent.lease_lost_before_side_effect", deployment_id=deployment_id)
            raise LeaseLost(f"lease on deployment {deployment_id} was lost")

    def _destroy(self, deployment_id: str, handle: Handle) -> None:
        """Destroy one server of the deployment, if the step still holds its lease."""
        self._check_lease(deployment_id)
        self.registry.get(handle.kind).destroy(handle)

    def _refresh(self, instance: Instance) -> ResourceState:
        handle = Handle.from_dict(instance.handle)
        return self.registry.get(handle.kind).refresh(handle)

    def _kinds_for(self, deployment: Deployment) -> set[str]:
        kinds = {provisioner_kind(p, self.kinds) for p in placements_for(deployment)}
        return {kind for kind in kinds if kind in self.registry.kinds()}

    def _mark_terminated(self, deployment_id: str, instance_id: str) -> None:
        with self._write(deployment_id) as session:
            instance = session.get(Instance, instance_id)
            if instance is not None and instance.terminated_at is None:
                instance.terminated_at = utcnow()
                instance.status = "terminated"

    def _provisioner_for(self, placement: Placement) -> Provisioner:
        try:
            return self.registry.get(provisioner_kind(placement, self.kinds))
        except ConfigError as exc:  # not installed here: retrying cannot help
            raise Unsupported(f"cannot provision on {placement.cloud}: {exc}") from exc


def slot_label(slot: str) -> str:
    """How events name a server: ``first server`` or ``server s2``."""
    return f"server {slot}" if slot else "first server"
