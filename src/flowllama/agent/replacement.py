"""Blue/green building blocks: a new server in a new slot, its start, the drain of the one it
replaces, and the spot-reclaim bookkeeping (``docs/autopilot.md``, "Replacement without a gap"
and "Spot loss").

A replacement is created beside the server it replaces (another slot, so both exist at once);
the old one stays routed until the new one is healthy, then it is marked ``draining`` (the
gateway stops sending it requests) and destroyed once no gateway reports a request in flight on
it and the route caches have moved on, or after the drain timeout.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from flowllama.agent.placement import capacity_fallbacks, describe, exclude, placement_of, spec_of
from flowllama.agent.steps import StepBase, slot_label
from flowllama.db.autopilot_tables import GatewayLoad
from flowllama.db.tables import Deployment, Instance
from flowllama.db.types import utcnow
from flowllama.domain.lifecycle import Status
from flowllama.domain.webhooks import WebhookEvent
from flowllama.errors import NoCapacity, NoFoundation
from flowllama.logging import get_logger
from flowllama.providers.base import DeploymentSpec, Handle, Placement, Provisioner
from flowllama.services.deployment_status import change_status_and_notify, record_event
from flowllama.webhooks.events import deployment_snapshot, notify

log = get_logger(__name__)

# A server that was created but never answers its health check is given up after this long.
STARTING_TIMEOUT_S = 900
DRAINING = "draining"
STARTING = "starting"
Move = tuple[Status, dict[str, Any]]
"""A status move written with a new server's row: the target and the event's extra data."""


def next_slot(instances: list[Instance], taken: set[str] | None = None) -> str:
    """The slot for a new server: ``""`` when the deployment has no live server, else the
    smallest ``sN`` no live instance (nor ``taken``) uses. Deterministic, so a step retried
    after a crash asks for the same slot and the provisioner adopts what it made."""
    used = {i.slot for i in instances} | (taken or set())
    if not instances and not used:
        return ""
    n = 1
    while f"s{n}" in used:
        n += 1
    return f"s{n}"


class ReplacementSteps(StepBase):
    """Adds, starts, drains and destroys single servers of a deployment."""

    # -- a new server -----------------------------------------------------------------------

    def _add_server(self, deployment: Deployment, placements: list[Placement], slot: str,
                    why: str, move: Move | None = None) -> str:
        """Adopt or create the server of ``slot`` on the first placement with room; record it
        (``starting``, this generation) with an event, or with the status ``move`` in the same
        transaction. Returns the instance id; raises ``NoCapacity`` when no placement had room
        (``ProvisioningFailed`` as it comes).

        A region without a foundation (``NoFoundation``) is skipped like a capacity refusal,
        with one event naming the command to run, and the region's other offers are passed
        over without asking again (none of them can be created there either)."""
        if not placements:
            raise NoCapacity("no placement satisfies this deployment's constraints")
        spec = spec_of(deployment, slot)
        reasons: list[str] = []
        bare: set[tuple[str, str]] = set()  # (cloud, region) found without a foundation
        for placement in capacity_fallbacks(placements):
            if (placement.cloud, placement.region) in bare:
                continue
            provisioner = self._provisioner_for(placement)
            try:
                handle = self._adopt(provisioner, spec)
                if handle is None:
                    self._check_lease(deployment.id)
                    handle = provisioner.create(spec, placement)
            except NoFoundation as exc:
                bare.add((placement.cloud, placement.region))
                reasons.append(str(exc))
                self._note(deployment.id, f"{exc}; skipping the {placement.cloud} offers in "
                           f"{placement.region}, trying the next offer",
                           {"error": str(exc), "placement": placement.to_dict()})
                continue
            except NoCapacity as exc:
                reasons.append(f"{describe(placement)}: {exc}")
                self._note(deployment.id, f"no capacity on {describe(placement)}; "
                           "trying the next offer", {"error": str(exc)})
                continue
            return self._record_server(deployment, placement, provisioner, handle,
                                       slot=slot, why=why, move=move)
        raise NoCapacity("no offer could be used (no capacity, or no foundation in its "
                         "region): " + "; ".join(reasons))

    @staticmethod
    def _adopt(provisioner: Provisioner, spec: DeploymentSpec) -> Handle | None:
        """What a crashed step already created and is serving; a dead leftover is not adopted
        (``create`` replaces or adopts it, by the provisioner contract)."""
        handle = provisioner.find(spec)
        if handle is None or not provisioner.refresh(handle).running:
            return None
        return handle

    def _record_server(self, deployment: Deployment, placement: Placement,
                       provisioner: Provisioner, handle: Handle, *, slot: str, why: str,
                       move: Move | None) -> str:
        state = provisioner.refresh(handle)
        with self._write(deployment.id) as session:
            row = session.get(Deployment, deployment.id)
            assert row is not None
            instance = Instance(
                deployment_id=row.id, provider=handle.kind, handle=handle.to_dict(),
                cloud=placement.cloud, region=placement.region, zone=placement.zone,
                instance_type=placement.instance_type, spot=placement.spot,
                endpoint_url=state.endpoint_url, price_per_hour=placement.price_per_hour,
                status=STARTING, slot=slot, generation=row.generation,
            )
            session.add(instance)
            session.flush()
            data = {"instance_id": instance.id, "slot": slot, "placement": placement.to_dict()}
            if move is None:
                record_event(session, row, f"{slot_label(slot)} created on "
                             f"{describe(placement)} ({why})", data)
            else:
                target, extra = move
                change_status_and_notify(session, row, target, f"created on {describe(placement)}",
                                         data={**data, **extra})
            return instance.id

    def _start_check(self, instance: Instance) -> tuple[str, str]:
        """``up`` (now marked healthy), ``waiting`` or ``failed`` (did not come up within
        ``STARTING_TIMEOUT_S`` of its creation) for a ``starting`` instance, with the
        provisioner's detail."""
        state = self._refresh(instance)
        if state.running:
            with self._write(instance.deployment_id) as session:
                row = session.get(Instance, instance.id)
                assert row is not None
                row.status = "healthy"
                row.endpoint_url = state.endpoint_url or row.endpoint_url
            return "up", state.detail
        now = utcnow()
        age = (now - _aware(instance.created_at, now)).total_seconds()
        return ("failed" if age > STARTING_TIMEOUT_S else "waiting"), state.detail

    def _abandon(self, deployment_id: str, instance: Instance, reason: str) -> None:
        """Destroy a replacement that did not make it (the old servers keep serving)."""
        self._destroy(deployment_id, Handle.from_dict(instance.handle))
        self._mark_terminated(deployment_id, instance.id)
        self._note(deployment_id, f"{slot_label(instance.slot)} abandoned: {reason}",
                   {"instance_id": instance.id, "slot": instance.slot})

    def _answers(self, instances: list[Instance]) -> bool:
        """Whether any of ``instances`` still serves (asked of its provisioner)."""
        return any(self._refresh(instance).running for instance in instances)

    # -- drains -----------------------------------------------------------------------------

    def _drain(self, deployment_id: str, instances: list[Instance], reason: str) -> None:
        """Mark ``instances`` draining: the gateway routes nothing new to them from now."""
        if not instances:
            return
        now = utcnow()
        with self._write(deployment_id) as session:
            deployment = session.get(Deployment, deployment_id)
            assert deployment is not None
            for instance in instances:
                row = session.get(Instance, instance.id)
                if row is None or row.terminated_at is not None:
                    continue
                row.status, row.draining_since = DRAINING, now
                record_event(session, deployment,
                             f"{slot_label(row.slot)} draining: {reason}",
                             {"instance_id": row.id, "slot": row.slot})

    def _finish_drains(self, deployment_id: str, draining: list[Instance]) -> int:
        """Destroy the draining servers that are done; how many are still draining."""
        pending = 0
        for instance in draining:
            if not self._drained(instance):
                pending += 1
                continue
            self._destroy(deployment_id, Handle.from_dict(instance.handle))
            self._mark_terminated(deployment_id, instance.id)
            self._note(deployment_id, f"{slot_label(instance.slot)} drained and destroyed",
                       {"instance_id": instance.id, "slot": instance.slot})
        return pending

    def _drained(self, instance: Instance) -> bool:
        """Whether a draining server may go now (see :class:`~.steps.DrainPolicy`)."""
        assert instance.draining_since is not None
        now = utcnow()
        since = _aware(instance.draining_since, now)
        waited = (now - since).total_seconds()
        if waited >= self.drain.timeout_s:
            return True
        if waited < self.drain.settle_s:
            return False
        return self._in_flight(instance.id, now) == 0

    def _in_flight(self, instance_id: str, now: datetime) -> int:
        """Requests in flight on the instance, summed over the gateways' fresh reports."""
        fresh = now - timedelta(seconds=self.drain.stale_s)
        with self.db.session() as session:
            total = session.scalar(select(func.coalesce(func.sum(GatewayLoad.in_flight), 0))
                                   .where(GatewayLoad.instance_id == instance_id,
                                          GatewayLoad.updated_at >= fresh))
        return int(total or 0)

    # -- spot -------------------------------------------------------------------------------

    def _reclaimed(self, deployment_id: str, instances: list[Instance]) -> Placement | None:
        """The placement of a condemned spot server the cloud took back, if any: recorded as
        an event, a ``deployment.spot_reclaimed`` webhook and an excluded offer."""
        for instance in instances:
            if not instance.spot or not self._refresh(instance).reclaimed:
                continue
            placement = placement_of(instance)
            reason = f"spot server reclaimed by {placement.cloud}"
            with self._write(deployment_id) as session:
                deployment = session.get(Deployment, deployment_id)
                assert deployment is not None
                exclude(deployment, placement, reason, utcnow())
                record_event(session, deployment, reason, {
                    "instance_id": instance.id, "placement": placement.to_dict()})
                notify(session, deployment.user_id, WebhookEvent.SPOT_RECLAIMED, {
                    "deployment": deployment_snapshot(deployment, deployment.status),
                    "placement": placement.to_dict()})
            log.warning("agent.spot_reclaimed", deployment_id=deployment_id,
                        instance_id=instance.id)
            return placement
        return None


def _aware(moment: datetime, now: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes; compare them as UTC."""
    return moment.replace(tzinfo=now.tzinfo) if moment.tzinfo is None else moment
