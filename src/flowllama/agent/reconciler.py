"""Level-triggered reconcile: read the row, take the next step towards the desired state,
write what happened, repeat until the row is where the user wants it or must wait.

Rules (``docs/agent.md``): the deployment's lease is held throughout (renewed by the agent's
heartbeat, :meth:`Reconciler.renew_held`), every write of a step is fenced by its token
(:func:`leases.fenced`) and every provisioner side effect is preceded by a lease check, so a
step that lost its lease stops without writing or touching a server; no provisioner call runs
inside a database transaction; each step is safe to repeat after a crash, because
provisioners adopt what already exists for a server (``find``/idempotent ``create``, keyed by
its slot) and ``destroy`` is idempotent.

The steps live in three layers: :mod:`.steps` (shared helpers), :mod:`.replacement` (one
server added, started, drained, destroyed; spot reclaims) and :mod:`.replicas` (a running
deployment converging on its replicas and generation); this module holds the state machine:
teardown, stop, sleep and wake, the first start and the blue/green heal.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from flowllama.agent import leases
from flowllama.agent.leases import HeldLeases, LeaseLost, StepCancelled
from flowllama.agent.placement import PROVISIONER_BY_CLOUD, placements_for, spec_of
from flowllama.agent.replacement import STARTING, STARTING_TIMEOUT_S, next_slot
from flowllama.agent.replicas import ReplicaSteps
from flowllama.agent.steps import DrainPolicy, Outcome, Snapshot, Step
from flowllama.db.session import Database
from flowllama.db.tables import Deployment, DeploymentEvent, Instance
from flowllama.db.types import utcnow
from flowllama.domain.lifecycle import Desired, Status
from flowllama.domain.webhooks import WebhookEvent
from flowllama.errors import ProviderError, ProvisioningFailed
from flowllama.logging import get_logger
from flowllama.metrics import HEAL_ATTEMPTS
from flowllama.providers.base import Handle
from flowllama.providers.registry import ProvisionerRegistry
from flowllama.services.deployment_status import change_status_and_notify
from flowllama.webhooks.events import deployment_snapshot, notify

__all__ = ["STARTING_TIMEOUT_S", "DrainPolicy", "Outcome", "Reconciler", "Snapshot"]

log = get_logger(__name__)

MAX_STEPS = 12


class Reconciler(ReplicaSteps):
    """Moves one deployment at a time towards its desired state."""

    def __init__(self, db: Database, registry: ProvisionerRegistry, *, lease_s: float = 30,
                 kinds: Mapping[str, str] = PROVISIONER_BY_CLOUD, max_heals: int = 3,
                 held: HeldLeases | None = None, drain: DrainPolicy | None = None) -> None:
        super().__init__(db, registry, lease_s=lease_s, kinds=kinds, held=held, drain=drain)
        self.max_heals = max_heals

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

    def _next_step(self, snap: Snapshot) -> Step | None:
        desired, status = Desired(snap.deployment.desired_state), Status(snap.deployment.status)
        if desired is not Desired.RUNNING or status is Status.STOPPING:
            return self._down_step(desired, status)
        return {
            Status.PENDING: self._begin_provisioning,
            Status.STOPPED: self._begin_provisioning,
            Status.FAILED: self._begin_provisioning,
            Status.SLEEPING: self._wake,
            Status.PROVISIONING: self._provision,
            Status.STARTING: self._check_started,
            Status.UNHEALTHY: self._begin_heal,
            Status.HEALING: self._heal,
            Status.RUNNING: self._converge,
        }.get(status)

    def _down_step(self, desired: Desired, status: Status) -> Step | None:
        """The step towards deleted, stopped or sleeping (or out of ``stopping`` first)."""
        if desired is Desired.DELETED:
            if status is Status.DELETED:
                return None
            return self._teardown if status is Status.DELETING else self._begin_teardown
        if status is Status.STOPPING:
            return self._teardown
        if desired is Desired.SLEEPING:
            # Only a serving deployment is put to sleep; one already down stays as it is.
            quiet = {Status.SLEEPING, Status.STOPPED, Status.PENDING, Status.FAILED}
            return None if status in quiet else self._begin_teardown
        if status is Status.STOPPED:
            return None
        return self._sleeping_to_stopped if status is Status.SLEEPING else self._begin_teardown

    # --- teardown, stop, sleep ------------------------------------------------------------

    def _begin_teardown(self, snap: Snapshot) -> None:
        desired = snap.deployment.desired_state
        target = Status.DELETING if desired == Desired.DELETED else Status.STOPPING
        if snap.deployment.status == Status.PENDING and desired != Desired.DELETED:
            self._move(snap.deployment.id, Status.STOPPED, "stopped before provisioning")
            return
        reason = ("going to sleep: idle" if desired == Desired.SLEEPING
                  else f"{target} requested")
        self._move(snap.deployment.id, target, reason)

    def _teardown(self, snap: Snapshot) -> None:
        """Destroy every instance and every server of any slot a crash left, then settle."""
        deployment = snap.deployment
        for instance in snap.instances:
            self._destroy(deployment.id, Handle.from_dict(instance.handle))
            self._mark_terminated(deployment.id, instance.id)
        kinds = self._kinds_for(deployment) | {
            Handle.from_dict(i.handle).kind for i in snap.instances}
        for kind in sorted(kinds):
            # The sweep finds every slot's server, so a resumed agent that lost its lease
            # would reach the new holder's: each destroy checks the lease first.
            for orphan in self.registry.get(kind).find_all(spec_of(deployment)):
                self._destroy(deployment.id, orphan)
        desired = Desired(deployment.desired_state)
        if desired is Desired.DELETED:
            self._check_lease(deployment.id)
            for kind in sorted(kinds):
                self.registry.get(kind).forget(deployment.id)
            self._move(deployment.id, Status.DELETED, "all resources destroyed")
        elif desired is Desired.SLEEPING:
            self._fall_asleep(deployment)
        else:
            self._move(deployment.id, Status.STOPPED, "all resources destroyed")

    def _fall_asleep(self, deployment: Deployment) -> None:
        idle = deployment.idle_timeout_s
        reason = (f"asleep after {idle}s without traffic" if idle
                  else "asleep: its servers are released")
        with self._write(deployment.id) as session:
            row = session.get(Deployment, deployment.id)
            assert row is not None
            change_status_and_notify(session, row, Status.SLEEPING, reason,
                                     data={"idle_timeout_s": idle})
            row.asleep_since = utcnow()

    def _sleeping_to_stopped(self, snap: Snapshot) -> None:
        """Stopped while asleep: nothing runs, so straight to ``stopped``."""
        with self._write(snap.deployment.id) as session:
            row = session.get(Deployment, snap.deployment.id)
            assert row is not None
            _account_sleep(row)
            change_status_and_notify(session, row, Status.STOPPED, "stopped while asleep")

    def _wake(self, snap: Snapshot) -> None:
        """Desired running again while asleep: provision. A wake by a request has already
        counted the sleep (``services/wake.py``); a plain start counts it here."""
        with self._write(snap.deployment.id) as session:
            row = session.get(Deployment, snap.deployment.id)
            assert row is not None
            by_request = row.asleep_since is None
            _account_sleep(row)
            change_status_and_notify(session, row, Status.PROVISIONING,
                                     "woken by a request" if by_request else "started")

    # --- first start ----------------------------------------------------------------------

    def _begin_provisioning(self, snap: Snapshot) -> None:
        self._move(snap.deployment.id, Status.PROVISIONING, "provisioning towards running")

    def _provision(self, snap: Snapshot) -> None:
        """Adopt what a crashed step created, or create on the best placement that has room."""
        if snap.instances:  # an instance row exists: creation already finished
            self._move(snap.deployment.id, Status.STARTING, "instance already recorded")
            return
        self._add_server(snap.deployment, placements_for(snap.deployment), next_slot([]),
                         "first start", move=(Status.STARTING, {}))

    def _check_started(self, snap: Snapshot) -> Outcome | None:
        """Wait for the new servers; when all are up, drain what they replace and run."""
        deployment = snap.deployment
        if not snap.active:  # lost its instance (e.g. destroyed outside): start over
            self._move(deployment.id, Status.FAILED, "instance disappeared while starting")
            return None
        replacing = [i for i in snap.active if i.id in self._replacing(deployment.id)]
        for instance in [i for i in snap.active if i.status == STARTING]:
            result, detail = self._start_check(instance)
            if result == "waiting":
                return Outcome.WAIT
            if result == "failed":
                self._start_failed(deployment, instance, replacing, detail)
                return None
        self._started(deployment, replacing)
        return None

    def _start_failed(self, deployment: Deployment, instance: Instance,
                      replacing: list[Instance], detail: str) -> None:
        error = (f"the server did not come up in {STARTING_TIMEOUT_S}s: "
                 f"{detail or 'no detail'}")
        if not replacing or not self._answers(replacing):
            raise ProvisioningFailed(error)
        self._abandon(deployment.id, instance, error)
        self._move(deployment.id, Status.RUNNING,
                   "the replacement did not come up; the old server keeps serving",
                   message=error)

    def _started(self, deployment: Deployment, replacing: list[Instance]) -> None:
        self._drain(deployment.id, replacing, "its replacement is up")
        with self._write(deployment.id) as session:
            row = session.get(Deployment, deployment.id)
            assert row is not None
            healed = self._came_from(session, deployment.id) is Status.HEALING
            # The event names the server, never its address: users see events, and reach
            # models only through the gateway (operators read addresses off the instances).
            serving = session.execute(
                select(Instance.id, Instance.slot).where(
                    Instance.deployment_id == row.id, Instance.terminated_at.is_(None),
                    Instance.draining_since.is_(None))
                .order_by(Instance.created_at.desc(), Instance.id.desc()).limit(1)).first()
            change_status_and_notify(
                session, row, Status.RUNNING,
                "healed: the replacement is up" if healed else "server is up",
                data={"instance_id": serving.id if serving else None,
                      "slot": serving.slot if serving else None, "healed": healed})
            if replacing:
                notify(session, row.user_id, WebhookEvent.REPLACED, {
                    "deployment": deployment_snapshot(row, row.status),
                    "replaced": [i.id for i in replacing]})
        if healed:
            HEAL_ATTEMPTS.labels(outcome="healed").inc()

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

    def _replacing(self, deployment_id: str) -> set[str]:
        """The instances the latest move to ``starting`` replaces (a heal's old servers)."""
        with self.db.session() as session:
            data = session.scalar(
                select(DeploymentEvent.data).where(
                    DeploymentEvent.deployment_id == deployment_id,
                    DeploymentEvent.to_status == Status.STARTING,
                    DeploymentEvent.from_status != Status.STARTING)
                .order_by(DeploymentEvent.at.desc(), DeploymentEvent.id.desc()).limit(1))
        return set((data or {}).get("replacing") or [])

    # --- heal -----------------------------------------------------------------------------

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
        """Blue/green: create a replacement for each broken server (every server when the
        monitor's verdict names none) in a new slot while the old ones stay routed; the switch
        happens in ``starting``. A replacement that cannot be created leaves the old servers
        serving if they still answer; otherwise they go and the worker retries."""
        for stale in [i for i in snap.active if i.status == STARTING]:  # an earlier try's
            self._abandon(snap.deployment.id, stale, "superseded by a new heal attempt")
        serving = [i for i in snap.active if i.status != STARTING]
        condemned = [i for i in serving if i.status != "healthy"] or serving
        if not condemned:
            self._provision(Snapshot(snap.deployment, []))
            return
        reclaimed = self._reclaimed(snap.deployment.id, condemned)
        fresh = self._load(snap.deployment.id)
        deployment = fresh.deployment if fresh else snap.deployment
        placements = placements_for(deployment, reclaimed=reclaimed)
        created: list[str] = []
        taken: set[str] = set()
        try:
            for _ in condemned:
                slot = next_slot(snap.instances, taken)
                taken.add(slot)
                created.append(self._add_server(deployment, placements, slot, "heal"))
        except ProviderError as exc:  # not a lost lease (StepAbandoned): that passes untouched
            self._heal_failed(deployment, condemned, created, exc)
            return
        self._move(deployment.id, Status.STARTING, "replacement created; the old server "
                   "serves until it is up",
                   data={"replacing": [i.id for i in condemned], "instances": created})

    def _heal_failed(self, deployment: Deployment, condemned: list[Instance],
                     created: list[str], exc: ProviderError) -> None:
        fresh = self._load(deployment.id)
        for instance in [i for i in (fresh.instances if fresh else []) if i.id in created]:
            self._abandon(deployment.id, instance, str(exc))
        if self._answers(condemned):
            self._move(deployment.id, Status.RUNNING,
                       "heal failed; the old server keeps serving", message=str(exc))
            return
        for instance in condemned:
            self._destroy(deployment.id, Handle.from_dict(instance.handle))
            self._mark_terminated(deployment.id, instance.id)
        raise exc


def _account_sleep(row: Deployment) -> None:
    """Add the current sleep to ``asleep_seconds`` (once: ``asleep_since`` is cleared)."""
    if row.asleep_since is not None:
        now = utcnow()
        since = row.asleep_since
        since = since.replace(tzinfo=now.tzinfo) if since.tzinfo is None else since
        row.asleep_seconds = (row.asleep_seconds or 0.0) + (now - since).total_seconds()
        row.asleep_since = None

