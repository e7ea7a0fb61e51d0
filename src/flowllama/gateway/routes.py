"""Where a key owner's requests can go: their live deployments and healthy instances, cached.

An instance is routed while it is ``healthy`` and not draining, for a deployment whose desired
state is ``running`` and whose status is running, unhealthy, healing or starting (a blue/green
replacement keeps the old server routed until the new one is healthy).

One database read per owner per ``ttl_s`` (two queries); in between, resolving a ``model`` is a
dictionary lookup. A model name may be a deployment name (that deployment) or a model name (every
deployment of it, so their instances form one pool). Only the owner's rows are ever loaded,
so another tenant's deployment is exactly as unknown as a missing one.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from flowllama.db.session import Database
from flowllama.db.tables import Deployment, ExternalServer, Instance
from flowllama.domain.external import EXTERNAL_CLOUD
from flowllama.domain.lifecycle import Desired, Status
from flowllama.errors import ConfigError
from flowllama.logging import get_logger
from flowllama.runtimes.model_names import is_local_model
from flowllama.runtimes.ollama import OllamaRuntime
from flowllama.security.runtime_keys import RuntimeKeys
from flowllama.security.upstream_secrets import UpstreamSecrets

log = get_logger(__name__)

# A deployment being healed, rolled or scaled keeps serving from its healthy instances while
# the agent brings up their replacements (blue/green, docs/autopilot.md).
SERVING_STATUSES = frozenset({Status.RUNNING, Status.UNHEALTHY, Status.HEALING, Status.STARTING})
# A woken deployment (``wake_count`` > 0) in these statuses is still on its way back: the
# gateway holds its requests (or answers "waking") instead of "not running".
WAKING_STATUSES = frozenset({Status.SLEEPING, Status.STOPPING, Status.STOPPED,
                             Status.PROVISIONING, Status.STARTING})
HEALTHY_INSTANCE = "healthy"


@dataclass(frozen=True, slots=True)
class Upstream:
    """One healthy instance: where its OpenAI-compatible API is, and what it costs."""

    instance_id: str
    deployment_id: str
    deployment_name: str
    model: str
    base_url: str
    price_per_hour: float | None
    # The deployment's context size: the bound on a request's max_tokens and num_ctx.
    context_size: int = 0
    # The runtime's native API root (Ollama's ``/api`` lives under it), None for runtimes
    # without one (llama.cpp).
    native_base_url: str | None = None
    # Sent with every request to this instance: the deployment's runtime key.
    auth_headers: tuple[tuple[str, str], ...] = ()
    # The deployment's parallel slots per server: sizes the instance's in-flight cap.
    parallel: int = 1


@dataclass(frozen=True, slots=True)
class Target:
    """One live deployment of the owner and its healthy instances (maybe none)."""

    deployment_id: str
    name: str
    model: str
    serving: bool
    created: int
    upstreams: tuple[Upstream, ...]
    context_size: int = 0
    # Asleep (desired or status sleeping) or woken and not serving yet: a request waits for
    # it (``docs/autopilot.md``); ``wake_needed`` when it still has to be woken.
    asleep: bool = False
    wake_needed: bool = False
    cloud: str = "local"
    # Whether it runs Ollama as the deployment asks (its instances' handles may say otherwise).
    ollama: bool = False


def is_asleep(desired: str, status: str, wake_count: int) -> bool:
    """Whether a deployment is asleep or on its way back from a wake (not yet serving)."""
    if desired == Desired.SLEEPING or status == Status.SLEEPING:
        return True
    return desired == Desired.RUNNING and status in WAKING_STATUSES and wake_count > 0


@dataclass(frozen=True)
class OwnerRoutes:
    """An owner's deployments, indexed by deployment name and by model name."""

    targets: tuple[Target, ...]
    by_name: dict[str, Target] = field(init=False)
    by_model: dict[str, tuple[Target, ...]] = field(init=False)

    def __post_init__(self) -> None:
        by_model: dict[str, list[Target]] = {}
        for target in self.targets:
            by_model.setdefault(target.model, []).append(target)
        object.__setattr__(self, "by_name", {t.name: t for t in self.targets})
        object.__setattr__(self, "by_model", {m: tuple(ts) for m, ts in by_model.items()})

    def resolve(self, model: str) -> tuple[Target, ...]:
        """The deployments ``model`` names: a deployment name first, else a model name."""
        named = self.by_name.get(model)
        if named is not None:
            return (named,)
        return self.by_model.get(model, ())


RouteLoader = Callable[[str], Awaitable[OwnerRoutes]]


def load_owner_routes(db: Database, user_id: str, keys: RuntimeKeys | None = None,
                      secrets: UpstreamSecrets | None = None) -> OwnerRoutes:
    """Read ``user_id``'s live deployments and their healthy instances (sync; run in a thread);
    with ``keys``, each upstream carries its deployment's runtime key, and with ``secrets`` an
    external server's upstream carries its own secret instead (``cloud: external``)."""
    with db.session() as session:
        deployments = session.execute(
            select(Deployment.id, Deployment.name, Deployment.model, Deployment.status,
                   Deployment.desired_state, Deployment.created_at, Deployment.runtime,
                   Deployment.context_size, Deployment.cloud, Deployment.wake_count,
                   Deployment.parallel)
            .where(Deployment.user_id == user_id, Deployment.deleted_at.is_(None))
            .order_by(Deployment.created_at, Deployment.id)
        ).all()
        ids = [row.id for row in deployments]
        instances = session.execute(
            select(Instance.id, Instance.deployment_id, Instance.endpoint_url,
                   Instance.price_per_hour, Instance.handle)
            .where(Instance.deployment_id.in_(ids), Instance.status == HEALTHY_INSTANCE,
                   Instance.terminated_at.is_(None), Instance.endpoint_url.is_not(None),
                   # a draining instance finishes what it has, and gets nothing new
                   Instance.draining_since.is_(None))
            .order_by(Instance.created_at, Instance.id)
        ).all() if ids else []
        external = _external_headers(session, deployments, secrets)
        clouds = _last_clouds(session, [
            dep.id for dep in deployments
            if dep.cloud == "auto" and is_asleep(dep.desired_state, dep.status, dep.wake_count)])
    targets = []
    for dep in deployments:
        serving = dep.status in SERVING_STATUSES and dep.desired_state == Desired.RUNNING
        routable = serving and (dep.cloud != EXTERNAL_CLOUD or dep.id in external)
        upstreams = tuple(
            _upstream(dep, i, keys, external) for i in instances if i.deployment_id == dep.id
        ) if routable else ()
        targets.append(Target(deployment_id=dep.id, name=dep.name, model=dep.model,
                              serving=serving, created=int(dep.created_at.timestamp()),
                              upstreams=upstreams, context_size=dep.context_size,
                              asleep=is_asleep(dep.desired_state, dep.status, dep.wake_count),
                              wake_needed=dep.desired_state == Desired.SLEEPING,
                              cloud=clouds.get(dep.id, dep.cloud),
                              ollama=runtime_of(dep.runtime, dep.model, None)
                              == OllamaRuntime.name))
    return OwnerRoutes(tuple(targets))


def runtime_of(deployment_runtime: str, model: str, handle: Any) -> str:
    """The runtime an instance runs: as its handle records it, else as the deployment asked,
    else the automatic choice (llama.cpp for ``local/`` GGUF files, Ollama for tags)."""
    data = handle.get("data") if isinstance(handle, dict) else None
    if isinstance(data, dict) and isinstance(data.get("runtime"), str):
        return str(data["runtime"])
    if deployment_runtime != "auto":
        return deployment_runtime
    return "llamacpp" if is_local_model(model) else "ollama"


def _last_clouds(session: Session, ids: list[str]) -> dict[str, str]:
    """Deployment id → the cloud its latest server ran on (for asleep ``cloud: auto``
    deployments: whether a wake is quick enough to hold requests for); one query, only when
    there are such deployments."""
    if not ids:
        return {}
    rows = session.execute(
        select(Instance.deployment_id, Instance.cloud)
        .where(Instance.deployment_id.in_(ids), Instance.cloud.is_not(None))
        .order_by(Instance.created_at, Instance.id)).all()
    return {row.deployment_id: str(row.cloud) for row in rows}  # the latest one wins


def _external_headers(session: Session, deployments: Sequence[Any],
                      secrets: UpstreamSecrets | None) -> dict[str, tuple[tuple[str, str], ...]]:
    """Deployment id → the headers for its external server (one query, only when the owner
    has external deployments)."""
    ids = [dep.id for dep in deployments if dep.cloud == EXTERNAL_CLOUD]
    if not ids:
        return {}
    rows = session.execute(select(ExternalServer.deployment_id, ExternalServer.secret)
                           .where(ExternalServer.deployment_id.in_(ids))).all()
    headers = {}
    for row in rows:
        try:
            headers[row.deployment_id] = (tuple(secrets.headers(row.secret).items())
                                          if secrets else ())
        except ConfigError as exc:  # unreadable (platform secret rotated): not routable
            log.warning("gateway.external_secret_unreadable", deployment_id=row.deployment_id,
                        error=str(exc))
    return headers


def _upstream(dep: Any, instance: Any, keys: RuntimeKeys | None,
              external: dict[str, tuple[tuple[str, str], ...]]) -> Upstream:
    base_url = str(instance.endpoint_url).rstrip("/")
    runtime = runtime_of(dep.runtime, dep.model, instance.handle)
    native = base_url.removesuffix(OllamaRuntime.openai_base_path) \
        if runtime == OllamaRuntime.name else None
    return Upstream(instance_id=instance.id, deployment_id=dep.id, deployment_name=dep.name,
                    context_size=dep.context_size, parallel=dep.parallel,
                    model=dep.model, base_url=base_url, price_per_hour=instance.price_per_hour,
                    native_base_url=native,
                    auth_headers=_auth_headers(dep, keys, external))


def _auth_headers(dep: Any, keys: RuntimeKeys | None,
                  external: dict[str, tuple[tuple[str, str], ...]]) -> tuple[tuple[str, str], ...]:
    # An external server gets its own secret, never the platform's runtime key.
    if dep.cloud == EXTERNAL_CLOUD:
        return external.get(dep.id, ())
    return tuple(keys.headers(dep.id).items()) if keys else ()


def database_loader(db: Database, keys: RuntimeKeys | None = None,
                    secrets: UpstreamSecrets | None = None) -> RouteLoader:
    """A loader that reads an owner's routes in a worker thread."""
    import anyio.to_thread

    async def load(user_id: str) -> OwnerRoutes:
        return await anyio.to_thread.run_sync(load_owner_routes, db, user_id, keys, secrets)

    return load


class RouteCache:
    """Owner id → :class:`OwnerRoutes`, read again after ``ttl_s``."""

    def __init__(self, loader: RouteLoader, ttl_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._loader = loader
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, tuple[float, OwnerRoutes]] = {}

    async def for_owner(self, user_id: str) -> OwnerRoutes:
        cached = self._entries.get(user_id)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        routes = await self._loader(user_id)
        self._entries[user_id] = (self._clock() + self._ttl_s, routes)
        return routes

    def invalidate(self, user_id: str) -> None:
        """Read the owner's routes again on the next request."""
        self._entries.pop(user_id, None)
