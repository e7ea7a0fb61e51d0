"""The cheaper-placement advisor's records (``docs/autopilot.md``): finding a cheaper feasible
placement for a running cloud deployment, recording it as a recommendation, and the owner's
answer (accept: a blue/green move; dismiss).

The offers come from the same estimator the API creates deployments with
(:class:`~flowllama.services.deployment_estimates.DeploymentEstimator`), under the deployment's
own constraints, so a recommendation is exactly what a new deployment would get today. What
runs now is what its live servers are billed (``instances.price_per_hour``). At most one
recommendation per deployment is ``open``: a cheaper new one supersedes it, the same offer
again changes nothing, and one that no longer saves enough is withdrawn (``superseded``); a
dismissed offer is not offered again unless something cheaper turns up.
Callers hold the deployment row (``lock_advisable``) while they write, so two advisors (one
per monitor process) never record two.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from flowllama.db.autopilot_tables import Recommendation
from flowllama.db.tables import Deployment, Instance, User
from flowllama.db.types import utcnow
from flowllama.domain.deployments import DeploymentCreate
from flowllama.domain.lifecycle import Desired, Status
from flowllama.domain.recommendations import RecommendationOut
from flowllama.domain.webhooks import WebhookEvent
from flowllama.errors import Conflict, InvalidInput, NotFound
from flowllama.services import deployments, quotas
from flowllama.services.deployment_status import record_event
from flowllama.settings import QuotaSettings
from flowllama.webhooks.events import deployment_snapshot, notify

HOURS_PER_MONTH = 730  # the catalog's month (catalog.offers.HOURS_PER_MONTH)
OPEN, ACCEPTED, DISMISSED, SUPERSEDED = "open", "accepted", "dismissed", "superseded"
# Clouds the advisor never moves: this machine (free) and servers FlowLlama does not run.
NOT_ADVISED = ("local", "external")
PLACEMENT_FIELDS = ("cloud", "region", "zone", "instance_type", "spot", "price_per_hour",
                    "gpu", "gpu_count")

Estimator = Callable[[DeploymentCreate], dict[str, Any]]
"""The API's estimator: ranked offers (``candidates``) for a request, or ``InvalidInput``."""


@dataclass(frozen=True, slots=True)
class Thresholds:
    """A move is recommended only when it saves more than both (``AutopilotSettings``)."""

    min_usd_month: float
    min_percent: float


@dataclass(frozen=True, slots=True)
class Finding:
    """A cheaper offer for one deployment: one server's $/h now and there, and how many."""

    placement: dict[str, Any]
    current: float
    new: float
    replicas: int

    @property
    def monthly_saving(self) -> float:
        return round((self.current - self.new) * HOURS_PER_MONTH * self.replicas, 2)

    @property
    def percent(self) -> float:
        return round((self.current - self.new) / self.current * 100, 2)

    def worth_it(self, thresholds: Thresholds) -> bool:
        return (self.monthly_saving > thresholds.min_usd_month
                and self.percent > thresholds.min_percent)


def _advisable() -> tuple[Any, ...]:
    """Running cloud deployments the owner wants running: the only ones worth moving."""
    return (Deployment.deleted_at.is_(None), Deployment.desired_state == Desired.RUNNING,
            Deployment.status == Status.RUNNING, Deployment.cloud.not_in(NOT_ADVISED))


def advisable_ids(session: Session) -> list[str]:
    """Ids of the deployments a round looks at."""
    return list(session.scalars(select(Deployment.id).where(*_advisable())
                                .order_by(Deployment.id)).all())


def lock_advisable(session: Session, deployment_id: str) -> Deployment | None:
    """The deployment, held until the session ends, if it is still advisable."""
    return session.scalar(select(Deployment).where(Deployment.id == deployment_id, *_advisable())
                          .with_for_update())


def withdraw_stale(session: Session) -> int:
    """Supersede the open recommendations of deployments that stopped being advisable
    (stopped, sleeping, deleted, failed); returns how many."""
    advisable = select(Deployment.id).where(*_advisable())
    rows = session.scalars(select(Recommendation).where(
        Recommendation.status == OPEN, Recommendation.deployment_id.not_in(advisable))).all()
    now = utcnow()
    for row in rows:
        row.status, row.decided_at = SUPERSEDED, now
    return len(rows)


def live_instances(session: Session, deployment: Deployment) -> list[Instance]:
    """The servers the deployment runs (and is billed for) now."""
    return list(session.scalars(select(Instance).where(
        Instance.deployment_id == deployment.id, Instance.terminated_at.is_(None),
        Instance.status != "terminated")).all())


def current_price(deployment: Deployment, servers: Sequence[Instance]) -> float | None:
    """One server's $/h now (the live servers' sum, per server), or None while there is
    nothing settled to compare: no priced server, a roll or a drain under way."""
    if not servers or any(row.price_per_hour is None or row.draining_since is not None
                          or row.generation != deployment.generation for row in servers):
        return None
    return sum(float(row.price_per_hour or 0.0) for row in servers) / len(servers)


def request_of(deployment: Deployment) -> DeploymentCreate | None:
    """The deployment's constraints as the create request the estimator takes (None when
    the row no longer makes a valid request, e.g. a model name the catalog renamed)."""
    estimate = deployment.estimate or {}
    # ``allow_cpu`` is not stored: a CPU offer among the candidates shows it was allowed.
    allow_cpu = any(not offer.get("gpu_count") for offer in estimate.get("candidates") or [])
    try:
        return DeploymentCreate(
            name=deployment.name, model=deployment.model, context_size=deployment.context_size,
            parallel=deployment.parallel, spot_tolerance=deployment.spot_tolerance,
            gpu=deployment.gpu, allow_cpu=allow_cpu, cloud=deployment.cloud,
            region=deployment.region, instance_type=deployment.instance_type,
            runtime=deployment.runtime)
    except ValidationError:
        return None


def _key(place: dict[str, Any]) -> tuple[Any, ...]:
    """Where an offer runs, to the region: a zone move alone is not worth a replacement."""
    return (place.get("cloud"), place.get("region"), place.get("instance_type"),
            bool(place.get("spot")))


def _server_key(row: Instance) -> tuple[Any, ...]:
    """:func:`_key` of a running server."""
    return (row.cloud, row.region, row.instance_type, bool(row.spot))


def _excluded(offer: dict[str, Any], exclusions: Sequence[dict[str, Any]], now: datetime
              ) -> bool:
    """Whether the agent must not use ``offer`` now (a spot reclaim excluded it)."""
    for entry in exclusions:
        if _expired(entry.get("until"), now):
            continue
        zone_differs = entry.get("zone") and offer.get("zone") and entry["zone"] != offer["zone"]
        if _key(entry) == _key(offer) and not zone_differs:
            return True
    return False


def _expired(until: Any, now: datetime) -> bool:
    """Whether an exclusion's ``until`` (ISO time, UTC when naive) has passed; an exclusion
    without a readable one holds."""
    try:
        moment = datetime.fromisoformat(str(until))
    except ValueError:
        return False
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment <= now


def find_cheaper(deployment: Deployment, servers: Sequence[Instance], estimator: Estimator
                 ) -> Finding | None:
    """The best offer the deployment may use, when it is not where it already runs."""
    current = current_price(deployment, servers)
    request = request_of(deployment)
    if current is None or current <= 0 or request is None:
        return None
    try:
        candidates = estimator(request).get("candidates") or []
    except InvalidInput:  # nothing fits today (a catalog change): nothing to recommend
        return None
    now = utcnow().replace(tzinfo=None)
    allowed = [offer for offer in candidates
               if not _excluded(offer, deployment.excluded_offers or [], now)]
    if not allowed or _key(allowed[0]) in {_server_key(row) for row in servers}:
        return None
    best = allowed[0]
    placement = {name: best.get(name) for name in PLACEMENT_FIELDS}
    placement["gpu_count"] = int(placement["gpu_count"] or 0)
    return Finding(placement, round(current, 6), float(best["price_per_hour"]),
                   max(deployment.replicas_desired, len(servers)))


def open_for(session: Session, deployment_id: str) -> Recommendation | None:
    """The deployment's open recommendation (what its page shows), if any."""
    return session.scalar(select(Recommendation).where(
        Recommendation.deployment_id == deployment_id, Recommendation.status == OPEN))


def advise(session: Session, deployment: Deployment, estimator: Estimator,
           thresholds: Thresholds) -> Recommendation | None:
    """One look at a locked, advisable deployment: record (event + webhook) a new
    recommendation and return it, or None when nothing changed. Supersedes the open one
    when a cheaper offer appeared or when it no longer saves enough."""
    finding = find_cheaper(deployment, live_instances(session, deployment), estimator)
    existing = open_for(session, deployment.id)
    if finding is None or not finding.worth_it(thresholds):
        if existing is not None:
            existing.status, existing.decided_at = SUPERSEDED, utcnow()
        return None
    shown = existing or _last_dismissed(session, deployment.id)
    if shown is not None and shown.new_price_per_hour <= finding.new:
        return None  # the same offer again, or nothing cheaper than was shown
    if existing is not None:
        existing.status, existing.decided_at = SUPERSEDED, utcnow()
        session.flush()  # at most one open row, also to a reader inside this transaction
    return _record(session, deployment, finding)


def _last_dismissed(session: Session, deployment_id: str) -> Recommendation | None:
    """The owner's latest "no": not asked again unless something cheaper turns up."""
    return session.scalar(select(Recommendation).where(
        Recommendation.deployment_id == deployment_id, Recommendation.status == DISMISSED)
        .order_by(Recommendation.decided_at.desc()).limit(1))


def _record(session: Session, deployment: Deployment, finding: Finding) -> Recommendation:
    row = Recommendation(
        user_id=deployment.user_id, deployment_id=deployment.id, status=OPEN,
        placement=finding.placement, current_price_per_hour=finding.current,
        new_price_per_hour=finding.new, monthly_saving_usd=finding.monthly_saving,
        saving_percent=finding.percent, created_at=utcnow())
    session.add(row)
    session.flush()
    record_event(session, deployment,
                 f"cheaper placement found: {describe(finding.placement)} saves "
                 f"${finding.monthly_saving:,.2f}/month ({finding.percent:.0f}%)",
                 data={"recommendation_id": row.id})
    notify(session, deployment.user_id, WebhookEvent.RECOMMENDATION,
           {"deployment": deployment_snapshot(deployment, deployment.status),
            "recommendation": view(row).model_dump(mode="json")})
    return row


def accept(session: Session, deployment: Deployment, row: Recommendation,
           quota: QuotaSettings | None = None) -> None:
    """Start the move: the pin the agent tries first, a new generation (so it replaces every
    server blue/green), an event. The caller commits, then nudges the agent. With ``quota``,
    a move that adds GPU servers (onto a GPU offer from CPU-only ones) must fit the owner's
    ``gpu_instances`` (``QuotaExceeded``, nothing changed)."""
    if row.status != OPEN:
        raise Conflict(f"The recommendation is {row.status}, not open",
                       field="status", code="not_open")
    if quota is not None:
        _reserve_gpu_servers(session, deployment, row.placement, quota)
    row.status, row.decided_at = ACCEPTED, utcnow()
    deployment.placement_pin = dict(row.placement)
    deployment.generation += 1
    deployment.updated_at = utcnow()
    record_event(session, deployment,
                 f"moving to {describe(row.placement)}: saves "
                 f"${row.monthly_saving_usd:,.2f}/month",
                 data={"recommendation_id": row.id, "generation": deployment.generation})


def _reserve_gpu_servers(session: Session, deployment: Deployment, pin: dict[str, Any],
                         quota: QuotaSettings) -> None:
    """As for a change (``deployment_changes``): only a move that adds GPU servers is
    checked, under the account's lock."""
    before = quotas.gpu_servers(deployment.estimate, deployment.placement_pin,
                                deployment.replicas_max)
    after = quotas.gpu_servers(deployment.estimate, pin, deployment.replicas_max)
    if after > before:
        owner = session.get(User, deployment.user_id)
        assert owner is not None  # a deployment's owner row is never deleted under it
        quotas.reserve_gpu_servers(session, owner, quota, after, deployment_id=deployment.id)


def _owned(session: Session, user: User, deployment_id: str, recommendation_id: str
           ) -> tuple[Deployment, Recommendation]:
    """The user's deployment (locked) and its recommendation; anyone else's is a 404."""
    deployment = deployments.get(session, user, deployment_id, lock=True)
    row = session.scalar(select(Recommendation).where(
        Recommendation.id == recommendation_id, Recommendation.deployment_id == deployment.id)
        .with_for_update())
    if row is None:
        raise NotFound("Recommendation not found", field="id")
    return deployment, row


def accept_for(session: Session, user: User, deployment_id: str, recommendation_id: str,
               quota: QuotaSettings | None = None) -> tuple[Deployment, Recommendation]:
    """The owner accepts: 404 for another's, 409 when not open or the deployment is going,
    403 when the move would pass the account's GPU servers (with ``quota``)."""
    deployment, row = _owned(session, user, deployment_id, recommendation_id)
    if deployment.desired_state == Desired.DELETED:
        raise Conflict("Deployment is being deleted", code="deleting")
    accept(session, deployment, row, quota)
    return deployment, row


def dismiss_for(session: Session, user: User, deployment_id: str, recommendation_id: str
                ) -> Recommendation:
    """The owner dismisses an open recommendation (409 when it is not open)."""
    _, row = _owned(session, user, deployment_id, recommendation_id)
    if row.status != OPEN:
        raise Conflict(f"The recommendation is {row.status}, not open",
                       field="status", code="not_open")
    row.status, row.decided_at = DISMISSED, utcnow()
    return row


def list_for(session: Session, user: User, deployment_id: str) -> list[Recommendation]:
    """The deployment's recommendations, newest first."""
    deployment = deployments.get(session, user, deployment_id)
    return list(session.scalars(select(Recommendation).where(
        Recommendation.deployment_id == deployment.id)
        .order_by(Recommendation.created_at.desc(), Recommendation.id)).all())


def view(row: Recommendation) -> RecommendationOut:
    return RecommendationOut.model_validate(row)


def describe(placement: dict[str, Any]) -> str:
    """``g6.xlarge on-demand in us-east-2 (aws, $0.3100/h)`` for events."""
    market = "spot" if placement.get("spot") else "on-demand"
    where = placement.get("zone") or placement.get("region")
    price = placement.get("price_per_hour")
    cost = f", ${float(price):.4f}/h" if price is not None else ""
    return f"{placement.get('instance_type')} {market} in {where} ({placement.get('cloud')}{cost})"
