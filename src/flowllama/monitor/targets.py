"""Which instances to check this round, claimed so several monitors never check one instance
twice in an interval.

An instance is due when its last check is older than ``interval_s`` (less a small slack, so
rounds that drift by a few milliseconds do not skip it). Claiming is one conditional
``UPDATE ... RETURNING``: it stamps ``last_check_at`` only where it is still old, so of two
monitors racing for a row exactly one gets it.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from flowllama.db.session import Database
from flowllama.db.tables import Deployment, ExternalServer, Instance
from flowllama.db.types import utcnow
from flowllama.domain.external import EXTERNAL_CLOUD, endpoints_of
from flowllama.domain.lifecycle import Status
from flowllama.errors import InvalidInput
from flowllama.monitor.probes import Target
from flowllama.runtimes import select_runtime

# Instance states the monitor watches (``starting`` belongs to the agent until it is up,
# ``draining`` to the agent until it is destroyed, ``terminated`` to no one).
WATCHED = ("healthy", "unhealthy", "degraded")
# A deployment being healed or replaced keeps serving from its old servers (blue/green), so
# they are still checked: one that dies meanwhile stops being routed.
SERVING = (Status.RUNNING, Status.UNHEALTHY, Status.HEALING, Status.STARTING)
SLACK = 0.9
BATCH = 500


def claim_due(db: Database, interval_s: float, limit: int = 10_000) -> list[Target]:
    """Claim the instances due for a check and describe them; at most ``limit``."""
    now = utcnow()
    cutoff = now - timedelta(seconds=interval_s * SLACK)
    due = or_(Instance.last_check_at.is_(None), Instance.last_check_at < cutoff)
    with db.session() as session:
        candidates = session.execute(
            select(Instance.id).join(Deployment, Deployment.id == Instance.deployment_id)
            .where(Instance.terminated_at.is_(None), Instance.status.in_(WATCHED),
                   Deployment.status.in_(SERVING), due)
            .order_by(Instance.last_check_at.is_not(None), Instance.last_check_at)
            .limit(limit)
        ).scalars().all()
    claimed: list[str] = []
    for start in range(0, len(candidates), BATCH):
        batch = candidates[start:start + BATCH]
        with db.session() as session:
            claimed += session.execute(
                update(Instance).where(Instance.id.in_(batch), due)
                .values(last_check_at=now).returning(Instance.id)
            ).scalars().all()
    return describe(db, claimed)


def describe(db: Database, instance_ids: list[str]) -> list[Target]:
    """The probe targets for ``instance_ids`` (instances without an endpoint are skipped)."""
    targets = []
    for start in range(0, len(instance_ids), BATCH):
        with db.session() as session:
            rows = session.execute(
                select(Instance, Deployment).join(Deployment,
                                                  Deployment.id == Instance.deployment_id)
                .where(Instance.id.in_(instance_ids[start:start + BATCH]))
            ).all()
            external = _external_servers(session, [d.id for _, d in rows
                                                   if d.cloud == EXTERNAL_CLOUD])
            targets += [t for t in (_target(i, d, external) for i, d in rows) if t is not None]
    return targets


def _external_servers(session: Session, ids: list[str]) -> dict[str, ExternalServer]:
    if not ids:
        return {}
    rows = session.scalars(select(ExternalServer).where(ExternalServer.deployment_id.in_(ids)))
    return {row.deployment_id: row for row in rows}


def _external_target(instance: Instance, deployment: Deployment, server: ExternalServer
                     ) -> Target:
    """A registered server: checked where its API answers, with its own secret."""
    where = endpoints_of(server.api, server.base_url)
    return Target(
        instance_id=instance.id, deployment_id=deployment.id, model=deployment.model,
        runtime=server.api, server_url=where.server_url, health_path=where.health_path,
        chat_path=where.chat_path, expects_gpu=False, external=True,
        sealed_secret=server.secret,
    )


def _target(instance: Instance, deployment: Deployment,
            external: dict[str, ExternalServer]) -> Target | None:
    if not instance.endpoint_url:
        return None
    if deployment.cloud == EXTERNAL_CLOUD:
        server = external.get(deployment.id)
        return None if server is None else _external_target(instance, deployment, server)
    try:
        runtime = select_runtime(deployment.model, deployment.runtime)
    except InvalidInput:
        return None
    root = instance.endpoint_url.rstrip("/").removesuffix(runtime.openai_base_path)
    return Target(
        instance_id=instance.id, deployment_id=deployment.id, model=deployment.model,
        runtime=runtime.name, server_url=root, health_path=runtime.health_path,
        expects_gpu=deployment.cloud != "local" and deployment.gpu != "none",
    )
