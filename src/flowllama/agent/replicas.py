"""A running deployment converges on its spec: ``replicas_desired`` healthy servers of the
current ``generation`` (``docs/autopilot.md``).

One action per step, in this order: finish drains that are done; watch servers that are
starting (a new one that never comes up is destroyed, and a failed roll is recorded in
``rollout_error``/``failed_generation`` and not retried until the generation changes); add a
server in a new slot while fewer than desired are up or starting; once enough of the current
generation are up, drain the older generation (the switch of a roll or move: webhook
``deployment.replaced``); drain extras, newest first (webhook ``deployment.scaled``). The
deployment stays ``running`` throughout, and the gateway keeps routing its healthy servers.
"""

from __future__ import annotations

from flowllama.agent.placement import placements_for
from flowllama.agent.replacement import STARTING, ReplacementSteps, next_slot
from flowllama.agent.steps import Outcome, Snapshot
from flowllama.db.tables import Deployment, Instance
from flowllama.domain.webhooks import WebhookEvent
from flowllama.errors import ProviderError
from flowllama.logging import get_logger
from flowllama.services.deployment_status import record_event
from flowllama.webhooks.events import deployment_snapshot, notify

log = get_logger(__name__)

SERVING_INSTANCE = frozenset({"healthy", "degraded", "unhealthy"})


class ReplicaSteps(ReplacementSteps):
    """The ``running`` step: replicas, generation rolls and drains."""

    def _converge(self, snap: Snapshot) -> Outcome | None:
        """One action towards the spec (module doc); ``DONE`` when there is nothing to do,
        ``WAIT`` while a server boots or drains."""
        deployment = snap.deployment
        draining = self._finish_drains(deployment.id, snap.draining)
        if draining < len(snap.draining):
            return None  # some were destroyed: look again
        up = [i for i in snap.active if i.status in SERVING_INSTANCE]
        current = [i for i in up if self._current(deployment, i)]
        older = [i for i in up if not self._current(deployment, i)]
        starting = [i for i in snap.active if i.status == STARTING]
        for instance in starting:
            outcome = self._watch_start(deployment, instance, len(current), bool(older))
            if outcome is not Outcome.WAIT:
                return outcome
        if len(current) + len(starting) < deployment.replicas_desired:
            return self._grow(deployment, snap.instances)
        if starting:
            return Outcome.WAIT
        if self._rebalance(deployment, older, current):
            return None
        return Outcome.WAIT if draining else Outcome.DONE

    def _rebalance(self, deployment: Deployment, older: list[Instance],
                   current: list[Instance]) -> bool:
        """Drain the older generation once enough current servers are up, or the extras
        beyond ``replicas_desired``; whether anything was drained."""
        if older:
            self._switch(deployment, older, current)
            return True
        if len(current) > deployment.replicas_desired:
            self._shrink(deployment, current, deployment.replicas_desired)
            return True
        return False

    @staticmethod
    def _current(deployment: Deployment, instance: Instance) -> bool:
        """Whether the instance counts as current: built for this generation, or any
        generation while the roll to this one has failed (the old servers keep serving)."""
        blocked = deployment.failed_generation == deployment.generation
        return blocked or instance.generation >= deployment.generation

    def _watch_start(self, deployment: Deployment, instance: Instance, up: int,
                     rolling: bool) -> Outcome | None:
        """A server added while running (``up`` current ones serve beside it): ``None`` once
        it is up (look again; a replica added to scale is announced), ``WAIT`` while it
        boots; one that never came up is destroyed and the roll recorded as failed."""
        result, detail = self._start_check(instance)
        if result == "up":
            if not rolling:
                self._scaled(deployment.id, up, up + 1)
            return None
        if result == "waiting":
            return Outcome.WAIT
        error = f"the new server did not come up: {detail or 'no detail'}"
        self._abandon(deployment.id, instance, error)
        self._fail_rollout(deployment.id, error)
        return None

    def _grow(self, deployment: Deployment, instances: list[Instance]) -> Outcome | None:
        """Add one server of the current generation in a new slot."""
        rolling = any(i.generation < deployment.generation for i in instances)
        why = (f"rolling to generation {deployment.generation}" if rolling
               else f"{deployment.replicas_desired} replicas wanted")
        try:
            self._add_server(deployment, placements_for(deployment), next_slot(instances), why)
        except ProviderError as exc:  # not a lost lease (StepAbandoned): that passes untouched
            if not any(i.status in SERVING_INSTANCE for i in instances):
                raise  # nothing serves: the worker's retry/failed path
            self._fail_rollout(deployment.id, f"could not add a server: {exc}")
        return None

    def _fail_rollout(self, deployment_id: str, error: str) -> None:
        """The roll to this generation failed: the old servers keep serving; not retried until
        the generation changes (or the owner restarts the deployment)."""
        with self._write(deployment_id) as session:
            row = session.get(Deployment, deployment_id)
            assert row is not None
            row.failed_generation, row.rollout_error = row.generation, error
            record_event(session, row, f"rollout to generation {row.generation} failed; "
                         "the running servers keep serving", {"error": error})
        log.warning("agent.rollout_failed", deployment_id=deployment_id, error=error)

    def _switch(self, deployment: Deployment, older: list[Instance],
                current: list[Instance]) -> None:
        """Enough current servers are up: drain the older ones (a roll or a move done)."""
        reason = f"replaced by generation {deployment.generation}"
        self._drain(deployment.id, older, reason)
        with self._write(deployment.id) as session:
            row = session.get(Deployment, deployment.id)
            assert row is not None
            row.rollout_error = None
            record_event(session, row, f"switched to generation {row.generation}", {
                "from": [i.id for i in older], "to": [i.id for i in current]})
            notify(session, row.user_id, WebhookEvent.REPLACED, {
                "deployment": deployment_snapshot(row, row.status),
                "replaced": [i.id for i in older], "by": [i.id for i in current]})

    def _shrink(self, deployment: Deployment, current: list[Instance], want: int) -> None:
        """Drain the servers beyond ``want``, newest first."""
        extras = sorted(current, key=lambda i: (i.created_at, i.id), reverse=True)
        extras = extras[:len(current) - want]
        self._drain(deployment.id, extras, f"scaled down to {want} replicas")
        self._scaled(deployment.id, len(current), want)

    def _scaled(self, deployment_id: str, before: int, after: int) -> None:
        """The event and ``deployment.scaled`` webhook of a change of the replica count."""
        with self._write(deployment_id) as session:
            row = session.get(Deployment, deployment_id)
            assert row is not None
            record_event(session, row, f"scaled from {before} to {after} replicas",
                         {"from": before, "to": after})
            notify(session, row.user_id, WebhookEvent.SCALED, {
                "deployment": deployment_snapshot(row, row.status),
                "replicas": {"from": before, "to": after}})
