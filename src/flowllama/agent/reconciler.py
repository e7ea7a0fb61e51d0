"""Level-triggered reconcile: read the row, take the next step towards the desired state,
write what happened, repeat until the row is where the user wants it or must wait.

Rules (``docs/agent.md``): the deployment's lease is held throughout (renewed by the agent's
heartbeat, :meth:`Reconciler.renew_held`) and every write of a step is fenced by its token
(:func:`leases.fenced`), so a step that lost its lease stops without writing; no provisioner
call runs inside a database transaction; each step is safe to repeat after a crash, because
provisioners adopt what already exists for the deployment (``find``/idempotent ``create``)
and ``destroy`` is idempotent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flowllama.agent import leases
from flowllama.agent.leases import HeldLeases, LeaseLost, StepCancelled
from flowllama.agent.placement import (
    PROVISIONER_BY_CLOUD,
    describe,
    placements_for,
    provisioner_kind,
    spec_of,
)
from flowllama.db.session import Database
from flowllama.db.tables import Deployment, DeploymentEvent, Instance
from flowllama.db.types import utcnow
from flowllama.domain.lifecycle import Desired, Status
from flowllama.errors import ConfigError, NoCapacity, ProvisioningFailed
from flowllama.logging import get_logger
from flowllama.metrics import HEAL_ATTEMPTS
from flowllama.providers.base import DeploymentSpec, Handle, Placement, Provisioner, Unsupported
from flowllama.providers.registry import ProvisionerRegistry
from flowllama.services.deployment_status import change_status_and_notify, record_event

log = get_logger(__name__)

MAX_STEPS = 12
# A server that was created but never answers its health check is retried, then failed.
STARTING_TIMEOUT_S = 900


class Outcome(StrEnum):
    DONE = "done"  # the row matches its desired state (or is gone)
    WAIT = "wait"  # something external must happen first; reconcile again later
    BUSY = "busy"  # another agent holds the lease


@dataclass(frozen=True)
class Snapshot:
    deployment: Deployment
    instances: list[Instance]


Step = Callable[[Snapshot], Outcome | None]


class Reconciler:
    """Moves one deployment at a time towards its desired state."""

    def __init__(self, db: Database, registry: ProvisionerRegistry, *, lease_s: float = 30,
                 kinds: Mapping[str, str] = PROVISIONER_BY_CLOUD, max_heals: int = 3,
                 held: HeldLeases | None = None) -> None:
        self.db = db
        self.max_heals = max_heals
        self.registry = registry
        self.lease_s = lease_s
        self.kinds = kinds
        self.held = held or HeldLeases()
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Finish the step under way, then take no further step (the agent is stopping)."""
        self._stopping.set()

    def release_all(self) -> list[str]:
        """Give up every lease this reconciler holds (its process is going away mid-step; the
        steps are safe to repeat, so the next agent just takes over). Returns their rows."""
        held = self.held.take_all()
        for deployment_id, token in held.items():
            leases.release(self.db, deployment_id, token)
        return sorted(held)

    def renew_held(self) -> list[str]:
        """The heartbeat: extend every lease held here. A lease found lost is dropped (its
        step's next write fails at once); a step whose deployment's desired state changed is
        marked cancelled (a long model download stops). Returns the deployments lost."""
        lost = []
        for deployment_id, (token, desired) in self.held.snapshot().items():
            now_desired = leases.heartbeat(self.db, deployment_id, token, self.lease_s)
            if now_desired is None:
                if self.held.drop(deployment_id, token):
                    lost.append(deployment_id)
                    log.warning("agent.lease_lost", deployment_id=deployment_id)
            elif desired is not None and now_desired != desired:
                self.held.cancel(deployment_id)
        return lost

    def reconcile(self, deployment_id: str) -> Outcome:
        token = leases.acquire(self.db, deployment_id, self.lease_s)
        if token is None:
            return Outcome.BUSY
        self.held.hold(deployment_id, token)
        try:
            return self._steps(deployment_id, token)
        finally:
            if self.held.drop(deployment_id, token):
                leases.release(self.db, deployment_id, token)

    def _steps(self, deployment_id: str, token: str) -> Outcome:
        for _ in range(MAX_STEPS):
            if self._stopping.is_set():
                return Outcome.WAIT
            snapshot = self._load(deployment_id)
            step = self._next_step(snapshot) if snapshot else None
            if step is None or snapshot is None:
                return Outcome.DONE
            self.held.working_towards(deployment_id, snapshot.deployment.desired_state)
            try:
                outcome = step(snapshot)
            except StepCancelled:  # the desired state changed under the step: look again
                log.info("agent.step_cancelled", deployment_id=deployment_id)
                outcome = None
            if not leases.renew(self.db, deployment_id, token, self.lease_s):
                raise LeaseLost(f"lease on deployment {deployment_id} was lost")
            if outcome is not None:
                return outcome
        return Outcome.WAIT

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
                Instance.deployment_id == deployment_id, Instance.terminated_at.is_(None))).all()
            return Snapshot(deployment, list(rows))

    def _next_step(self, snap: Snapshot) -> Step | None:
        desired, status = Desired(snap.deployment.desired_state), Status(snap.deployment.status)
        if desired is Desired.DELETED:
            if status is Status.DELETED:
                return None
            return self._teardown if status is Status.DELETING else self._begin_teardown
        if status is Status.SLEEPING or desired is Desired.SLEEPING:
            return self._sleeping_step(desired, status)
        if desired is Desired.STOPPED or status is Status.STOPPING:
            if status is Status.STOPPED:
                return None
            return self._teardown if status is Status.STOPPING else self._begin_teardown
        return {
            Status.PENDING: self._begin_provisioning,
            Status.STOPPED: self._begin_provisioning,
            Status.FAILED: self._begin_provisioning,
            Status.PROVISIONING: self._provision,
            Status.STARTING: self._check_started,
            Status.UNHEALTHY: self._begin_heal,
            Status.HEALING: self._heal,
        }.get(status)

    def _sleeping_step(self, desired: Desired, status: Status) -> Step | None:
        """Idle sleep (``docs/autopilot.md``): desired sleeping tears down like a stop and
        settles in ``sleeping``; from ``sleeping``, desired running provisions again (woken)
        and desired stopped settles in ``stopped`` with nothing to destroy."""
        if desired is Desired.SLEEPING:
            if status in (Status.SLEEPING, Status.STOPPED, Status.FAILED):
                return None
            return self._teardown if status is Status.STOPPING else self._begin_teardown
        if desired is Desired.STOPPED:
            return self._stop_sleeping
        return self._wake_up

    def _wake_up(self, snap: Snapshot) -> None:
        self._move(snap.deployment.id, Status.PROVISIONING, "woken: provisioning again")

    def _stop_sleeping(self, snap: Snapshot) -> None:
        self._move(snap.deployment.id, Status.STOPPED, "stopped while asleep")

    # --- steps -------------------------------------------------------------------------------

    def _move(self, deployment_id: str, target: Status, reason: str,
              message: str | None = None) -> None:
        with self._write(deployment_id) as session:
            deployment = session.get(Deployment, deployment_id)
            assert deployment is not None
            change_status_and_notify(session, deployment, target, reason, message=message)
            if target is Status.DELETED:
                deployment.deleted_at = utcnow()

    def _begin_teardown(self, snap: Snapshot) -> None:
        deleting = snap.deployment.desired_state == Desired.DELETED
        target = Status.DELETING if deleting else Status.STOPPING
        if snap.deployment.status == Status.PENDING and not deleting:
            self._move(snap.deployment.id, Status.STOPPED, "stopped before provisioning")
            return
        sleeping = snap.deployment.desired_state == Desired.SLEEPING
        self._move(snap.deployment.id, target,
                   "going to sleep: releasing the server" if sleeping else f"{target} requested")

    def _teardown(self, snap: Snapshot) -> None:
        """Destroy every instance (and anything adoptable left by a crash), then settle."""
        for instance in snap.instances:
            self._destroy(Handle.from_dict(instance.handle))
            self._mark_terminated(snap.deployment.id, instance.id)
        for kind in self._kinds_for(snap.deployment):
            orphan = self.registry.get(kind).find(spec_of(snap.deployment))
            if orphan is not None:
                self._destroy(orphan)
        if snap.deployment.desired_state == Desired.DELETED:
            kinds = self._kinds_for(snap.deployment) | {
                Handle.from_dict(i.handle).kind for i in snap.instances}
            for kind in kinds:
                self.registry.get(kind).forget(snap.deployment.id)
            self._move(snap.deployment.id, Status.DELETED, "all resources destroyed")
        elif snap.deployment.desired_state == Desired.SLEEPING:
            self._move(snap.deployment.id, Status.SLEEPING, _asleep_reason(snap.deployment))
        else:
            self._move(snap.deployment.id, Status.STOPPED, "all resources destroyed")

    def _destroy(self, handle: Handle) -> None:
        self.registry.get(handle.kind).destroy(handle)

    def _kinds_for(self, deployment: Deployment) -> set[str]:
        kinds = {provisioner_kind(p, self.kinds) for p in placements_for(deployment)}
        return {kind for kind in kinds if kind in self.registry.kinds()}

    def _mark_terminated(self, deployment_id: str, instance_id: str) -> None:
        with self._write(deployment_id) as session:
            instance = session.get(Instance, instance_id)
            if instance is not None and instance.terminated_at is None:
                instance.terminated_at = utcnow()
                instance.status = "terminated"

    def _begin_provisioning(self, snap: Snapshot) -> None:
        self._move(snap.deployment.id, Status.PROVISIONING, "provisioning towards running")

    def _provision(self, snap: Snapshot) -> None:
        """Adopt what a crashed step created, or create on the best placement that has room."""
        if snap.instances:  # an instance row exists: creation already finished
            self._move(snap.deployment.id, Status.STARTING, "instance already recorded")
            return
        placements = placements_for(snap.deployment)
        if not placements:
            raise NoCapacity("no placement satisfies this deployment's constraints")
        spec = spec_of(snap.deployment)
        reasons: list[str] = []
        for placement in placements:
            provisioner = self._provisioner_for(placement)
            try:
                handle = self._adopt(provisioner, spec) or provisioner.create(spec, placement)
            except NoCapacity as exc:
                reasons.append(f"{describe(placement)}: {exc}")
                self._note(snap.deployment.id, f"no capacity on {describe(placement)}; "
                           "trying the next offer", {"error": str(exc)})
                continue
            self._record_instance(snap.deployment, placement, provisioner, handle)
            return
        raise NoCapacity("every offer lacked capacity: " + "; ".join(reasons))

    @staticmethod
    def _adopt(provisioner: Provisioner, spec: DeploymentSpec) -> Handle | None:
        """What a crashed step already created and is serving; a dead leftover is not adopted
        (``create`` replaces or adopts it, by the provisioner contract)."""
        handle = provisioner.find(spec)
        if handle is None or not provisioner.refresh(handle).running:
            return None
        return handle

    def _provisioner_for(self, placement: Placement) -> Provisioner:
        try:
            return self.registry.get(provisioner_kind(placement, self.kinds))
        except ConfigError as exc:  # not installed here: retrying cannot help
            raise Unsupported(f"cannot provision on {placement.cloud}: {exc}") from exc

    def _note(self, deployment_id: str, reason: str, data: dict[str, str]) -> None:
        with self._write(deployment_id) as session:
            deployment = session.get(Deployment, deployment_id)
            assert deployment is not None
            record_event(session, deployment, reason, data)
        log.info("agent.note", deployment_id=deployment_id, reason=reason)

    def _record_instance(self, deployment: Deployment, placement: Placement,
                         provisioner: Provisioner, handle: Handle) -> None:
        state = provisioner.refresh(handle)
        with self._write(deployment.id) as session:
            row = session.get(Deployment, deployment.id)
            assert row is not None
            session.add(Instance(
                deployment_id=row.id, provider=handle.kind, handle=handle.to_dict(),
                cloud=placement.cloud, region=placement.region, zone=placement.zone,
                instance_type=placement.instance_type, spot=placement.spot,
                endpoint_url=state.endpoint_url, price_per_hour=placement.price_per_hour,
                status="starting",
            ))
            change_status_and_notify(session, row, Status.STARTING,
                                     f"created on {describe(placement)}",
                                     data={"placement": placement.to_dict()})

    def _begin_heal(self, snap: Snapshot) -> Outcome | None:
        """An unhealthy deployment (the monitor said so): heal it, or give up after
        ``max_heals`` attempts since it last served healthily (and stop there: a failed
        deployment waits for its owner)."""
        deployment = snap.deployment
        if deployment.heal_attempts >= self.max_heals:
            self._move(deployment.id, Status.FAILED, f"gave up after {self.max_heals} heals",
                       message=deployment.status_message)
            HEAL_ATTEMPTS.labels(outcome="gave_up").inc()
            return Outcome.DONE
        with self._write(deployment.id) as session:
            row = session.get(Deployment, deployment.id)
            assert row is not None
            row.heal_attempts += 1
            change_status_and_notify(session, row, Status.HEALING,
                                     f"heal attempt {row.heal_attempts}",
                                     message=deployment.status_message)
        HEAL_ATTEMPTS.labels(outcome="started").inc()
        return None

    def _heal(self, snap: Snapshot) -> None:
        """Replace the broken server. A deployment's resources are named after it, so the old
        server is destroyed before its replacement is created on the best offer with room."""
        for instance in snap.instances:
            self._destroy(Handle.from_dict(instance.handle))
            self._mark_terminated(snap.deployment.id, instance.id)
        self._provision(Snapshot(snap.deployment, []))

    @staticmethod
    def _came_from(session: Session, deployment_id: str) -> Status | None:
        """The status the deployment was in before its latest move to ``starting``."""
        previous = session.scalar(
            select(DeploymentEvent.from_status).where(
                DeploymentEvent.deployment_id == deployment_id,
                DeploymentEvent.to_status == Status.STARTING,
                DeploymentEvent.from_status != Status.STARTING)
            .order_by(DeploymentEvent.at.desc(), DeploymentEvent.id.desc()).limit(1))
        return Status(previous) if previous else None

    def _starting_for_s(self, deployment_id: str) -> float:
        """Seconds since the deployment last became ``starting``."""
        with self.db.session() as session:
            since = session.scalar(
                select(func.max(DeploymentEvent.at)).where(
                    DeploymentEvent.deployment_id == deployment_id,
                    DeploymentEvent.to_status == Status.STARTING,
                    DeploymentEvent.from_status != Status.STARTING))
        return 0.0 if since is None else (utcnow() - since).total_seconds()

    def _check_started(self, snap: Snapshot) -> Outcome | None:
        if not snap.instances:  # lost its instance (e.g. destroyed outside): start over
            self._move(snap.deployment.id, Status.FAILED, "instance disappeared while starting")
            return None
        instance = snap.instances[-1]
        handle = Handle.from_dict(instance.handle)
        state = self.registry.get(handle.kind).refresh(handle)
        if not state.running:
            if self._starting_for_s(snap.deployment.id) > STARTING_TIMEOUT_S:
                raise ProvisioningFailed(f"the server did not come up in {STARTING_TIMEOUT_S}s: "
                                         f"{state.detail or 'no detail'}")
            return Outcome.WAIT
        with self._write(snap.deployment.id) as session:
            row = session.get(Instance, instance.id)
            deployment = session.get(Deployment, snap.deployment.id)
            assert row is not None and deployment is not None
            row.status = "healthy"
            row.endpoint_url = state.endpoint_url or row.endpoint_url
            healed = self._came_from(session, deployment.id) is Status.HEALING
            change_status_and_notify(
                session, deployment, Status.RUNNING,
                "healed: the replacement is up" if healed else "server is up",
                data={"endpoint_url": row.endpoint_url, "healed": healed})
        if healed:
            HEAL_ATTEMPTS.labels(outcome="healed").inc()
        return None


def _asleep_reason(deployment: Deployment) -> str:
    if deployment.idle_timeout_s:
        return f"asleep: no request for {deployment.idle_timeout_s} s (server released)"
    return "asleep (server released)"
