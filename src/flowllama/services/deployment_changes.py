"""Changing a deployment after it was created (``PATCH /api/deployments/{id}``).

Everything is checked before anything is written: the new spec against the catalog and the
optimizer (and this machine's capacity for a local deployment) with the same estimator that
creation uses, the replica bounds, the idle timeout. A change nothing can satisfy is an
``InvalidInput`` (422) naming the field, and the row is left as it was. A change that adds
GPU servers (``services/quotas.py``) must fit the account's ``gpu_instances``, checked under
the account's lock like a create (403 ``quota_exceeded``).

Then one transaction writes the new spec and its estimate, bumps ``generation`` when the
servers must be replaced (the agent rolls them blue/green), sets the replicas (the desired
count clamped into the new bounds), the idle timeout and ``auto_move``, records an event that
names what changed and supersedes the advisor's open recommendation, which was priced for the
old spec. The caller commits and nudges the agent. A change that changes nothing writes
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from flowllama.db.autopilot_tables import Recommendation
from flowllama.db.tables import Deployment, User
from flowllama.db.types import utcnow
from flowllama.domain.deployments import DeploymentChange, DeploymentCreate
from flowllama.domain.external import EXTERNAL_CLOUD
from flowllama.domain.lifecycle import Desired, Status
from flowllama.errors import Conflict, InvalidInput
from flowllama.services import deployments, quotas
from flowllama.services.deployment_status import record_event
from flowllama.settings import QuotaSettings

SERVER_FIELDS = ("model", "context_size", "parallel", "spot_tolerance", "gpu", "cloud",
                 "region", "instance_type", "runtime")
"""Fields whose change needs new servers: a bump of ``generation``."""

# A pin to one cloud's region or instance type means nothing on another cloud: a change of
# cloud drops them unless the same request sets them again.
_CLOUD_BOUND = ("region", "instance_type")


@dataclass
class Changes:
    """What a change does: the new spec values, replica bounds and settings that differ from
    the row, and the estimate of the new spec (when the servers change)."""

    server: dict[str, Any] = field(default_factory=dict)
    estimate: dict[str, Any] | None = None
    replicas: tuple[int, int] | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def any(self) -> bool:
        return bool(self.server or self.replicas or self.settings)


@dataclass(frozen=True)
class Changed:
    """The deployment after the change; ``changes`` is empty when nothing changed."""

    deployment: Deployment
    changes: Changes


def change(session: Session, user: User, deployment_id: str, body: DeploymentChange,
           estimator: deployments.Estimator, *, min_idle_timeout_s: float = 60.0,
           quota: QuotaSettings | None = None) -> Changed:
    """Validate ``body`` against the user's deployment, then apply it (uncommitted);
    ``min_idle_timeout_s`` is the platform's floor for ``idle_timeout_s``; ``quota`` the
    account caps a change that adds GPU servers must stay within.

    ``NotFound`` for another tenant's deployment, ``Conflict`` (``deleting``) for one being
    deleted, ``InvalidInput`` with the field for a change nothing can satisfy,
    ``QuotaExceeded`` (``gpu_instances``) for one past the account's GPU servers.
    """
    deployment = deployments.get(session, user, deployment_id, lock=True)
    if deployment.desired_state == Desired.DELETED or deployment.status in (
            Status.DELETING, Status.DELETED):
        raise Conflict("Deployment is being deleted", code="deleting")
    if body.idle_timeout_s is not None and body.idle_timeout_s < min_idle_timeout_s:
        raise InvalidInput(f"idle_timeout_s must be at least {min_idle_timeout_s:g} seconds",
                           field="idle_timeout_s", code="idle_timeout_too_short")
    changes = plan(deployment, body, estimator)
    if quota is not None and changes.any:
        _reserve_gpu_servers(session, user, quota, deployment, changes)
    if changes.any:
        apply(session, deployment, changes)
    return Changed(deployment, changes)


def plan(deployment: Deployment, body: DeploymentChange, estimator: deployments.Estimator
         ) -> Changes:
    """What ``body`` changes of ``deployment``, validated; writes nothing."""
    external = deployment.cloud == EXTERNAL_CLOUD
    changes = Changes(replicas=_replicas(deployment, body, external=external),
                      settings=_settings(deployment, body))
    wanted = _server_changes(deployment, body)
    if wanted and external:
        raise InvalidInput("An external server's model and placement are its administrator's; "
                           "only replicas, idle_timeout_s and auto_move can change",
                           field=next(iter(wanted)), code="external_server")
    if wanted:
        request = _request(deployment, wanted)
        estimate = estimator(request)
        # The estimator resolves the model's catalog name and a default context: compare
        # what would be recorded, so naming the same model differently changes nothing.
        resolved = {**wanted, "model": str(estimate.get("model") or request.model),
                    "context_size": int(estimate.get("context_size") or request.context_size
                                        or deployment.context_size)}
        changes.server = {name: value for name, value in resolved.items()
                          if getattr(deployment, name) != value}
        changes.estimate = estimate if changes.server else None
    elif changes.replicas is not None and changes.replicas[1] > deployment.replicas_max:
        _check_room_for_more(deployment, estimator)
    return changes


def _reserve_gpu_servers(session: Session, user: User, quota: QuotaSettings,
                         deployment: Deployment, changes: Changes) -> None:
    """A change that adds GPU servers (a move to a GPU offer, a higher ``replicas.max`` of a
    GPU deployment) must fit the account's ``gpu_instances``, checked under the account's
    lock; one that keeps or lowers them passes even over a lowered cap. The deployment count
    never changes here."""
    before = quotas.gpu_servers(deployment.estimate, deployment.placement_pin,
                                deployment.replicas_max)
    # New servers drop an accepted move's pin (``apply``); otherwise it still applies.
    estimate, pin = ((changes.estimate, None) if changes.server
                     else (deployment.estimate, deployment.placement_pin))
    high = changes.replicas[1] if changes.replicas is not None else deployment.replicas_max
    after = quotas.gpu_servers(estimate, pin, high)
    if after > before:
        quotas.reserve_gpu_servers(session, user, quota, after, deployment_id=deployment.id)


def _check_room_for_more(deployment: Deployment, estimator: deployments.Estimator) -> None:
    """A higher replica bound on this machine: one more server of the spec must fit now
    (the local capacity check counts the servers already running)."""
    if deployment.cloud != "local":
        return  # a cloud has room for another server of an offer it already priced
    try:
        estimator(_request(deployment, {}))
    except InvalidInput as exc:
        raise InvalidInput(f"Another replica does not fit on this machine: {exc.message}",
                           field="replicas.max", code=exc.code) from None


def _server_changes(deployment: Deployment, body: DeploymentChange) -> dict[str, Any]:
    sent = body.model_fields_set
    wanted = {name: getattr(body, name) for name in SERVER_FIELDS if name in sent}
    # ``null`` clears a region or instance type; the other fields have no "unset" value.
    wanted = {name: value for name, value in wanted.items()
              if value is not None or name in _CLOUD_BOUND}
    if "cloud" in wanted and wanted["cloud"] != deployment.cloud:
        for name in _CLOUD_BOUND:
            wanted.setdefault(name, None)
    return {name: value for name, value in wanted.items() if getattr(deployment, name) != value}


def _request(deployment: Deployment, wanted: dict[str, Any]) -> DeploymentCreate:
    """The deployment as a creation request with ``wanted`` applied: what the estimator
    checks. A new model keeps the current context size unless one is sent."""
    current = {name: getattr(deployment, name) for name in SERVER_FIELDS}
    try:
        return DeploymentCreate(name=deployment.name, **{**current, **wanted})
    except ValueError as exc:  # a stored value the request model no longer takes
        raise InvalidInput(f"The deployment cannot be changed this way: {exc}",
                           field=next(iter(wanted)), code="invalid_change") from None


def _replicas(deployment: Deployment, body: DeploymentChange, *, external: bool
              ) -> tuple[int, int] | None:
    if body.replicas is None:
        return None
    low, high = body.replicas.min, body.replicas.max
    if low > high:
        raise InvalidInput(f"replicas.min ({low}) is above replicas.max ({high})",
                           field="replicas.min", code="invalid_replicas")
    if external and high > 1:
        raise InvalidInput("An external server is one server: replicas.max must be 1",
                           field="replicas.max", code="invalid_replicas")
    if (low, high) == (deployment.replicas_min, deployment.replicas_max):
        return None
    return low, high


def _settings(deployment: Deployment, body: DeploymentChange) -> dict[str, Any]:
    sent = body.model_fields_set
    wanted: dict[str, Any] = {}
    if "idle_timeout_s" in sent:  # null is a value here: never sleep
        wanted["idle_timeout_s"] = body.idle_timeout_s
    if body.auto_move is not None:
        wanted["auto_move"] = body.auto_move
    return {name: value for name, value in wanted.items() if getattr(deployment, name) != value}


def apply(session: Session, deployment: Deployment, changes: Changes) -> None:
    """Write ``changes`` (already validated) to the row, with their event; a change of the
    servers or of the replicas supersedes the advisor's open recommendation."""
    summary = describe(deployment, changes)
    data: dict[str, Any] = {"changed": {
        name: {"from": getattr(deployment, name), "to": value}
        for name, value in {**changes.server, **changes.settings}.items()}}
    for name, value in changes.server.items():
        setattr(deployment, name, value)
    if changes.server:
        deployment.estimate = changes.estimate
        deployment.generation = (deployment.generation or 0) + 1
        # The last roll's error and an accepted move's pin were for the old spec.
        deployment.rollout_error = None
        deployment.placement_pin = None
        data["generation"] = deployment.generation
    if changes.replicas is not None:
        low, high = changes.replicas
        data["changed"]["replicas"] = {
            "from": {"min": deployment.replicas_min, "max": deployment.replicas_max},
            "to": {"min": low, "max": high}}
        deployment.replicas_min, deployment.replicas_max = low, high
        deployment.replicas_desired = min(max(deployment.replicas_desired, low), high)
    for name, value in changes.settings.items():
        setattr(deployment, name, value)
    deployment.updated_at = utcnow()
    if changes.server or changes.replicas is not None:
        supersede_recommendations(session, deployment.id)
    record_event(session, deployment, f"changed by user: {summary}", data)


def supersede_recommendations(session: Session, deployment_id: str) -> int:
    """Mark the deployment's open recommendations superseded; returns how many."""
    result = session.execute(
        update(Recommendation)
        .where(Recommendation.deployment_id == deployment_id, Recommendation.status == "open")
        .values(status="superseded", decided_at=utcnow())
        .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def describe(deployment: Deployment, changes: Changes) -> str:
    """``context_size 4096 → 8192, replicas 1..1 → 2..3``: the change, for its event."""
    parts = [f"{name} {_shown(getattr(deployment, name))} → {_shown(value)}"
             for name, value in {**changes.server, **changes.settings}.items()]
    if changes.replicas is not None:
        parts.append(f"replicas {deployment.replicas_min}..{deployment.replicas_max} → "
                     f"{changes.replicas[0]}..{changes.replicas[1]}")
    return ", ".join(parts)


def _shown(value: Any) -> str:
    return "none" if value is None else str(value)
