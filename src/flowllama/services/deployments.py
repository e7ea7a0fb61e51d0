"""Deployments: create (idempotently), read, list, act on. Owner-scoped everywhere.

The row's ``desired_state`` is what the user asked; the agent moves ``status`` towards it.
Every change of desire nudges the agent through the queue (after commit); a lost nudge is
harmless because the agent also sweeps for rows whose status does not match their desire.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flowllama.db.tables import Deployment, DeploymentEvent, Instance, User
from flowllama.db.types import utcnow
from flowllama.domain.deployments import (
    DeploymentCreate,
    DeploymentLogs,
    DeploymentOut,
    EventOut,
    InstanceOut,
    PlacementOut,
)
from flowllama.domain.lifecycle import Desired, Status
from flowllama.errors import (
    Conflict,
    FlowLlamaError,
    NotFound,
    QuotaExceeded,
    ServiceUnavailable,
)
from flowllama.logging import get_logger
from flowllama.queue.base import JobQueue
from flowllama.queue.nudges import nudge
from flowllama.services import quotas, spend, wake
from flowllama.services.autopilot_view import autopilot_fields
from flowllama.services.deployment_status import change_status_and_notify
from flowllama.settings import QuotaSettings

log = get_logger(__name__)

Estimator = Callable[[DeploymentCreate], dict[str, Any]]
"""Checks a request against the catalog and optimizer; returns the estimate or raises."""

ACTIONS: dict[str, Desired] = {
    "stop": Desired.STOPPED, "start": Desired.RUNNING, "restart": Desired.RUNNING,
}


@dataclass(frozen=True)
class Created:
    deployment: Deployment
    new: bool


def _request_hash(body: DeploymentCreate) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _by_idempotency_key(session: Session, user: User, key: str) -> Deployment | None:
    return session.scalar(
        select(Deployment).where(Deployment.user_id == user.id,
                                 Deployment.idempotency_key == key)
    )


def _replay(existing: Deployment, request_hash: str) -> Created:
    if existing.request_hash != request_hash:
        raise Conflict("Idempotency-Key was already used with a different request",
                       field="Idempotency-Key", code="idempotency_key_reused")
    return Created(existing, new=False)


def create(session: Session, user: User, body: DeploymentCreate, estimator: Estimator,
           idempotency_key: str | None = None, *, quota: QuotaSettings | None = None
           ) -> Created:
    """Validate, estimate and record a deployment (status pending, desired running), within
    the account's ``quota`` (checked and inserted under the account's lock)."""
    request_hash = _request_hash(body)
    if idempotency_key and (existing := _by_idempotency_key(session, user, idempotency_key)):
        return _replay(existing, request_hash)
    if _name_taken(session, user, body.name):
        return _winner_or_name_conflict(session, user, body.name, idempotency_key, request_hash)
    estimate = estimator(body)
    if quota is not None:
        try:
            _reserve(session, user, quota, estimate)
        except QuotaExceeded:
            # The check waited for the account's lock: a request with this key that filled
            # the cap has committed by now, and its answer (not a refusal) is ours.
            if idempotency_key and (existing := _by_idempotency_key(session, user,
                                                                    idempotency_key)):
                return _replay(existing, request_hash)
            raise
    deployment = Deployment(
        user_id=user.id, name=body.name, model=str(estimate.get("model") or body.model),
        runtime=body.runtime,
        context_size=int(estimate.get("context_size") or body.context_size or 0),
        parallel=body.parallel,
        spot_tolerance=body.spot_tolerance, gpu=body.gpu, cloud=body.cloud, region=body.region,
        instance_type=body.instance_type, desired_state=Desired.RUNNING, status=Status.PENDING,
        estimate=estimate, idempotency_key=idempotency_key, request_hash=request_hash,
    )
    try:
        # Added inside the savepoint: begin_nested() flushes what is pending *before* the
        # SAVEPOINT, so a row added earlier would fail the whole transaction, not just this.
        with session.begin_nested():
            session.add(deployment)
            session.flush()
    except IntegrityError:  # a concurrent request won: same key or same name
        return _winner_or_name_conflict(session, user, body.name, idempotency_key, request_hash)
    session.add(DeploymentEvent(deployment_id=deployment.id, from_status=None,
                                to_status=Status.PENDING, reason="created by user"))
    return Created(deployment, new=True)


def _reserve(session: Session, user: User, quota: QuotaSettings, estimate: dict[str, Any]
             ) -> None:
    """One more deployment, and its GPU servers (a new deployment runs one server; PATCH
    raises ``replicas.max``), within the account's caps, under its lock."""
    quotas.reserve(session, user, quota, "deployments")
    quotas.reserve_gpu_servers(session, user, quota, quotas.gpu_servers(estimate, None, 1))


def _name_taken(session: Session, user: User, name: str) -> bool:
    return session.scalar(
        select(Deployment.id).where(Deployment.user_id == user.id, Deployment.name == name,
                                    Deployment.deleted_at.is_(None))
    ) is not None


def _winner_or_name_conflict(session: Session, user: User, name: str, key: str | None,
                             request_hash: str) -> Created:
    """The name is taken. If a request with the same ``key`` took it (it may have committed
    between our two reads), its answer is ours; otherwise the name is in use (409)."""
    if key and (existing := _by_idempotency_key(session, user, key)):
        return _replay(existing, request_hash)
    raise Conflict(f"A deployment named {name!r} already exists", field="name",
                   code="name_taken")


def get(session: Session, user: User, deployment_id: str, *, lock: bool = False
        ) -> Deployment:
    """The user's live deployment; anyone else's (or a deleted one) is a 404.

    ``lock`` holds the row (``FOR UPDATE`` on PostgreSQL; SQLite's write transaction already
    excludes other writers) until the session ends.
    """
    query = select(Deployment).where(Deployment.id == deployment_id,
                                     Deployment.user_id == user.id,
                                     Deployment.deleted_at.is_(None))
    deployment = session.scalar(query.with_for_update() if lock else query)
    if deployment is None:
        raise NotFound("Deployment not found", field="id")
    return deployment


def list_page(session: Session, user: User, limit: int, offset: int
              ) -> tuple[list[Deployment], int]:
    live = (Deployment.user_id == user.id, Deployment.deleted_at.is_(None))
    total = session.scalar(select(func.count()).select_from(Deployment).where(*live)) or 0
    rows = session.scalars(
        select(Deployment).where(*live)
        .order_by(Deployment.created_at.desc(), Deployment.id).limit(limit).offset(offset)
    ).all()
    return list(rows), total


def instances(session: Session, deployment: Deployment) -> list[Instance]:
    return list(session.scalars(
        select(Instance).where(Instance.deployment_id == deployment.id)
        .order_by(Instance.created_at)
    ).all())


def events(session: Session, user: User, deployment_id: str, limit: int, offset: int
           ) -> list[DeploymentEvent]:
    deployment = get(session, user, deployment_id)
    return list(session.scalars(
        select(DeploymentEvent).where(DeploymentEvent.deployment_id == deployment.id)
        .order_by(DeploymentEvent.at, DeploymentEvent.id).limit(limit).offset(offset)
    ).all())


def request_action(session: Session, user: User, deployment_id: str, action: str
                   ) -> Deployment:
    """Record what the user now wants; the agent does the work.

    ``restart`` of a running server moves it to ``stopping`` with ``running`` still desired,
    so the agent tears it down and provisions it again. Because that is a status change made
    outside the agent, it is refused (409) while an agent holds the row's lease. ``start`` of
    a sleeping deployment wakes it (:func:`flowllama.services.wake.wake`); ``stop`` of one
    ends its sleep (the hours asleep are kept).
    """
    deployment = get(session, user, deployment_id, lock=action == "restart")
    if deployment.desired_state == Desired.DELETED:
        raise Conflict("Deployment is being deleted", code="deleting")
    if deployment.desired_state == Desired.SLEEPING:
        if action == "start" and wake.wake(session, deployment.id, wake.STARTED_BY_USER):
            return deployment
        wake.end_sleep(deployment)
    if action == "restart":
        _restart(deployment, session)
    if action != "stop":  # the user asked for it to run: healing starts from a clean slate
        deployment.heal_attempts = 0
    deployment.desired_state = ACTIONS[action]
    deployment.updated_at = utcnow()
    return deployment


def _restart(deployment: Deployment, session: Session) -> None:
    if deployment.status not in (Status.RUNNING, Status.UNHEALTHY):
        raise Conflict(f"Only a running deployment can be restarted (it is {deployment.status})",
                       field="status", code="not_running")
    expires = deployment.lease_expires_at
    if deployment.lease_token is not None and expires is not None and expires > utcnow():
        raise Conflict("The agent is working on this deployment; try again shortly",
                       code="busy", headers={"Retry-After": "5"})
    change_status_and_notify(session, deployment, Status.STOPPING, "restart requested by user")


def request_delete(session: Session, user: User, deployment_id: str) -> Deployment:
    deployment = get(session, user, deployment_id)
    deployment.desired_state = Desired.DELETED
    deployment.updated_at = utcnow()
    return deployment


def cost_so_far(instance_rows: list[Instance]) -> float:
    """Dollars spent: each instance's $/h over the hours it existed."""
    return round(sum(spend.server_costs(instance_rows, None, utcnow()).values()), 6)


def price_now(live: list[Instance]) -> float | None:
    """What the deployment is billed per hour now: every live server (replicas, and the old
    and new servers while a replacement overlaps); ``None`` when none is priced."""
    prices = [row.price_per_hour for row in live if row.price_per_hour is not None]
    return round(sum(prices), 6) if prices else None


# Keys under which a server's own address could sit in an event's data (operators only).
SERVER_ADDRESS_KEYS = frozenset({"endpoint_url", "private_ip", "public_ip", "url"})


@dataclass(frozen=True)
class Viewer:
    """How one caller sees deployments.

    Users reach a model only through the gateway, so ``endpoint_url`` is the gateway's OpenAI
    base URL and ``endpoint_model`` the name to pass as ``model``; a server's own addresses
    (``InstanceOut.endpoint_url``, ``private_ip``, ``public_ip``) are shown to operators only.
    """

    gateway_url: str
    operator: bool = False

    def view(self, session: Session, deployment: Deployment) -> DeploymentOut:
        """The deployment: instances, endpoint, placement and $/h now, cost so far, and the
        autopilot's view (replicas, sleep savings, open recommendation)."""
        rows = instances(session, deployment)
        live = [row for row in rows if row.terminated_at is None]
        current = live[-1] if live else None
        return DeploymentOut(
            id=deployment.id, name=deployment.name, model=deployment.model,
            runtime=deployment.runtime, context_size=deployment.context_size,
            parallel=deployment.parallel, spot_tolerance=deployment.spot_tolerance,
            gpu=deployment.gpu, cloud=deployment.cloud, region=deployment.region,
            instance_type=deployment.instance_type, desired_state=deployment.desired_state,
            status=deployment.status, status_message=deployment.status_message,
            endpoint_url=self.gateway_url, endpoint_model=deployment.name,
            price_per_hour=price_now(live),
            placement=_placement(current), cost_so_far_usd=cost_so_far(rows),
            estimate=deployment.estimate, instances=[self._instance(row) for row in rows],
            created_at=deployment.created_at, updated_at=deployment.updated_at,
            **autopilot_fields(session, deployment, rows),
        )

    def _instance(self, row: Instance) -> InstanceOut:
        out = _instance(row)
        if self.operator:
            return out
        return out.model_copy(update={"endpoint_url": None, "private_ip": None,
                                      "public_ip": None})

    def event(self, row: DeploymentEvent) -> EventOut:
        """An event of the timeline. Events name servers by id and slot, but rows written
        before that rule (and any writer that slips) may carry a server's address in
        ``data``: users never see those keys."""
        out = EventOut.model_validate(row)
        if self.operator or not out.data or not SERVER_ADDRESS_KEYS & out.data.keys():
            return out
        return out.model_copy(update={"data": {
            key: value for key, value in out.data.items() if key not in SERVER_ADDRESS_KEYS}})


def _placement(row: Instance | None) -> PlacementOut | None:
    if row is None:
        return None
    return PlacementOut(cloud=row.cloud, region=row.region, zone=row.zone,
                        instance_type=row.instance_type, spot=row.spot,
                        price_per_hour=row.price_per_hour)


def _instance(row: Instance) -> InstanceOut:
    """The instance row, with the server's cloud id and addresses from its provisioner handle
    (Terraform outputs); nothing else of the handle is shown."""
    data = (row.handle or {}).get("data") or {}
    outputs = data.get("outputs") if isinstance(data, dict) else None
    known = outputs if isinstance(outputs, dict) else {}
    out = InstanceOut.model_validate(row)
    return out.model_copy(update={
        key: str(known[name]) if known.get(name) else None
        for key, name in (("server_id", "instance_id"), ("private_ip", "private_ip"),
                          ("public_ip", "public_ip"))})


LogReader = Callable[[str, int], list[str]]
# Where a cloud server's log really goes (deploy/terraform/modules/ollama-boot): FlowLlama does
# not read it back, so the API says where to look rather than pretending to have it.
CLOUD_LOGS_MESSAGE = ("cloud servers keep Ollama's log in /var/log/flowllama/ollama.log and "
                      "ship it to CloudWatch Logs (AWS) or Cloud Logging (GCP) when the image "
                      "has the cloud's logging agent; read it there")


def logs(deployment: Deployment, reader: LogReader | None, tail: int) -> DeploymentLogs:
    """The last ``tail`` lines of a local deployment's server log (kept after it stops)."""
    if deployment.cloud == "external":
        return DeploymentLogs(deployment_id=deployment.id, lines=[], source="none",
                              message="an external server keeps its own logs")
    if deployment.cloud != "local":
        return DeploymentLogs(deployment_id=deployment.id, lines=[], source="none",
                              message=CLOUD_LOGS_MESSAGE)
    if reader is None:
        raise ServiceUnavailable("Local logs are served by the FlowLlama process that runs "
                                 "local deployments (flowllama up)", code="logs_unavailable")
    return DeploymentLogs(deployment_id=deployment.id, lines=reader(deployment.id, tail),
                          source="local")


def commit_and_nudge(session: Session, queue: JobQueue, deployment: Deployment) -> None:
    """Commit the user's change, then tell the agent. Enqueueing after the commit means the
    agent never sees a nudge for a row it cannot read yet; a nudge lost between the two is
    found by the agent's sweep."""
    session.commit()
    try:
        nudge(queue, deployment)
    except FlowLlamaError as exc:  # the change is saved; the sweep will pick it up
        log.warning("deployments.nudge_failed", deployment_id=deployment.id, error=str(exc))
