"""The gateway of one process: its caches, balancer, upstream client and usage meter.

Built once by :func:`build_gateway`, started and stopped by the app's lifespan. Request
handling is: key (cache) → owner's routes (cache) → candidates the key may use → proxy with
retries → relay and meter. None of these steps reads the database unless a cache expired.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.types import Send

from flowllama.db.session import Database
from flowllama.errors import NotFound, ServiceUnavailable, Unauthorized
from flowllama.gateway import keys, routes, telemetry
from flowllama.gateway.balancer import Balancer
from flowllama.gateway.breaker import CircuitBreaker
from flowllama.gateway.budget import MonthlyBudget
from flowllama.gateway.counting import Usage, estimate_prompt_tokens
from flowllama.gateway.forwarding import streamed, whole
from flowllama.gateway.keys import KeyCache, KeyInfo
from flowllama.gateway.limit_sync import LimitSync
from flowllama.gateway.limits import RateLimiter
from flowllama.gateway.load_report import LoadCounter, LoadReporter
from flowllama.gateway.metering import UsageFlusher, UsageMeter
from flowllama.gateway.proxy import Opened, UpstreamProxy
from flowllama.gateway.requests import ClientRequest
from flowllama.gateway.routes import RouteCache, Target, Upstream
from flowllama.gateway.schema import check_max_tokens
from flowllama.gateway.sse import StreamRelay
from flowllama.gateway.upstream import UpstreamClient
from flowllama.gateway.waking import WakeFn, Waker, database_waker
from flowllama.loops import LoopHealth
from flowllama.platform import Platform
from flowllama.settings import AutopilotSettings, GatewaySettings


def model_not_found(model: str) -> NotFound:
    """The same answer for a missing model and another tenant's (nothing leaks)."""
    return NotFound(f"The model '{model}' does not exist or you do not have access to it.",
                    field="model", code="model_not_found")


class Gateway:
    """Everything ``/v1`` needs, shared by its requests (see the module doc)."""

    def __init__(self, settings: GatewaySettings, db: Database, key_cache: KeyCache,
                 route_cache: RouteCache, loops: LoopHealth | None = None, *,
                 wake_fn: WakeFn, autopilot: AutopilotSettings | None = None) -> None:
        autopilot = autopilot or AutopilotSettings()
        self.settings = settings
        self.keys = key_cache
        self.routes = route_cache
        self.balancer = Balancer(settings.failure_cooldown_s)
        self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_cooldown_s)
        self.limiter = RateLimiter()
        self.budget = MonthlyBudget()
        self.meter = UsageMeter()
        self.flusher = UsageFlusher(self.meter, db, settings.usage_flush_interval_s, loops)
        self.limit_sync = LimitSync(self.limiter, db, settings.limit_sync_interval_s, loops)
        self.load = LoadCounter(self.balancer)
        self.load_reporter = LoadReporter(self.load, db, autopilot.load_report_interval_s, loops)
        self.waker = Waker(wake_fn, route_cache, autopilot.wake_hold_s,
                           autopilot.wake_retry_after_s)
        self._proxy: UpstreamProxy | None = None

    async def start(self) -> None:
        """Open the upstream connection pool and start the usage flusher (on the loop)."""
        # Every request sets its own head and idle timeouts (below); the pool's default read
        # timeout only matters to a request that sets none, and there is none.
        client = UpstreamClient(self.settings.upstream_connect_timeout_s,
                                self.settings.stream_idle_timeout_s)
        self._proxy = UpstreamProxy(
            client, self.balancer, self.settings.max_attempts, breaker=self.breaker,
            first_byte_timeout_s=self.settings.first_byte_timeout_s,
            idle_timeout_s=self.settings.stream_idle_timeout_s,
            whole_answer_timeout_s=self.settings.whole_answer_timeout_s,
            inflight_per_slot=self.settings.inflight_per_slot, load=self.load)
        self.flusher.start()
        self.limit_sync.start()
        self.load_reporter.start()

    async def stop(self) -> None:
        """Write the last usage and close the pool."""
        await self.flusher.stop()
        await self.limit_sync.stop()
        await self.load_reporter.stop()
        if self._proxy is not None:
            self._proxy.client.close()
            self._proxy = None

    @property
    def proxy(self) -> UpstreamProxy:
        if self._proxy is None:
            raise ServiceUnavailable("The gateway is not started", code="not_ready")
        return self._proxy

    async def authenticate(self, authorization: str | None) -> KeyInfo:
        """The usable key in an ``Authorization: Bearer`` header, else ``Unauthorized``."""
        scheme, _, secret = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthorized("Missing API key: send 'Authorization: Bearer fl-...'",
                               code="invalid_api_key")
        info = await self.keys.authenticate(secret.strip())
        self.meter.touch(info.id)
        return info

    async def listed_models(self, key: KeyInfo) -> list[dict[str, Any]]:
        """``/v1/models`` entries: the owner's serving and sleeping deployments (a request
        wakes those) and their model names."""
        owner = await self.routes.for_owner(key.user_id)
        seen: dict[str, dict[str, Any]] = {}
        for target in owner.targets:
            if not (target.serving or target.asleep):
                continue
            for name in (target.name, target.model):
                if name not in seen and key.allows(name, target.name, target.model):
                    seen[name] = {"id": name, "object": "model", "created": target.created,
                                  "owned_by": "flowllama", "deployment": target.name}
        return list(seen.values())

    async def candidates(self, key: KeyInfo, model: str) -> list[Upstream]:
        """Healthy instances ``key`` may send ``model`` to; 404 or 503 when there are none.
        When there are none because the deployment is asleep, it is woken and the request
        waits for it (or is answered 503 ``model_waking``; :mod:`.waking`)."""
        owner = await self.routes.for_owner(key.user_id)
        targets = [t for t in owner.resolve(model) if key.allows(model, t.name, t.model)]
        if not targets:
            raise model_not_found(model)
        upstreams = [u for target in targets for u in target.upstreams]
        if not upstreams:
            return await self.after_wake(key.user_id, model, targets)
        return upstreams

    async def after_wake(self, user_id: str, name: str, targets: Sequence[Target]
                         ) -> list[Upstream]:
        """The upstreams of the first asleep target once it serves; 503 ``not_serving`` when
        none is asleep (:mod:`.waking`)."""
        asleep = next((t for t in targets if t.asleep), None)
        if asleep is None:
            raise not_serving(name, targets)
        return await self.waker.serving(user_id, asleep,
                                        lambda target: self._fresh_upstreams(user_id, target))

    async def _fresh_upstreams(self, user_id: str, target: Target) -> list[Upstream]:
        """The target's upstreams by fresh routes; 503 when it was stopped or deleted
        meanwhile (it will not serve: stop holding)."""
        owner = await self.routes.for_owner(user_id)
        fresh = next((t for t in owner.targets if t.deployment_id == target.deployment_id), None)
        if fresh is None or not (fresh.asleep or fresh.serving):
            raise not_serving(target.name, [fresh] if fresh is not None else [])
        return list(fresh.upstreams)

    async def forward(self, key: KeyInfo, request: ClientRequest, path: str,
                      request_id: str | None, send: Send) -> None:
        """Send ``request`` to the best instance and answer (on ``send``) with what it says."""
        candidates = await self.candidates(key, request.model)
        check_max_tokens(request.body, min(u.context_size for u in candidates))
        self.budget.check(key)
        self.limiter.admit(key)
        bodies: dict[str, bytes] = {}

        def body_for(upstream: Upstream) -> bytes:
            if upstream.model not in bodies:
                bodies[upstream.model] = request.upstream_body(upstream.model)
            return bodies[upstream.model]

        opened = await self.open_on_fresh_routes(
            key, candidates, lambda: self.candidates(key, request.model),
            lambda ups: self.proxy.open(ups, path, body_for, request_id, stream=request.stream))

        def on_usage(usage: Usage) -> None:
            self.record(key, opened.upstream, usage)

        if not request.stream:
            await whole(send, opened, on_usage)
            return
        relay = StreamRelay(client_wants_usage=request.wants_usage,
                            prompt_estimate=estimate_prompt_tokens(request.body))
        await streamed(send, opened, relay, on_usage)

    async def open_on_fresh_routes(
        self, key: KeyInfo, candidates: list[Upstream],
        reload: Callable[[], Awaitable[list[Upstream]]],
        opener: Callable[[list[Upstream]], Awaitable[Opened]],
    ) -> Opened:
        """``opener(candidates)``; if no instance could take the request, read the owner's routes
        again and, when they changed (a server was replaced or restarted on another port since
        they were cached), try once more on the new ones instead of answering 503."""
        try:
            return await opener(candidates)
        except ServiceUnavailable as exc:
            if exc.code != "no_healthy_instance":
                raise
            self.routes.invalidate(key.user_id)
            fresh = await reload()
            known = {(u.instance_id, u.base_url) for u in candidates}
            if {(u.instance_id, u.base_url) for u in fresh} <= known:
                raise
            return await opener(fresh)

    def record(self, key: KeyInfo, upstream: Upstream, usage: Usage) -> None:
        """Count an answered request against the key's limits and in the usage rollup."""
        telemetry.tokens(upstream.deployment_id, usage.prompt_tokens, usage.completion_tokens)
        self.limiter.spend(key, usage.total_tokens)
        self.budget.spend(key, usage.total_tokens)
        self.meter.record(user_id=key.user_id, api_key_id=key.id,
                          deployment_id=upstream.deployment_id, model=upstream.model,
                          prompt_tokens=usage.prompt_tokens,
                          completion_tokens=usage.completion_tokens)


def not_serving(model: str, targets: Sequence[Target]) -> ServiceUnavailable:
    state = "has no healthy instance" if any(t.serving for t in targets) else "is not running"
    return ServiceUnavailable(f"The deployment for '{model}' {state} right now",
                              code="no_healthy_instance", headers={"Retry-After": "5"})


def build_gateway(platform: Platform) -> Gateway:
    """The gateway for ``platform``, listening for key revocations made in this process."""
    settings = platform.settings.gateway
    gateway = Gateway(
        settings, platform.db,
        KeyCache(keys.database_loader(platform.db), settings.key_cache_ttl_s),
        RouteCache(routes.database_loader(platform.db, platform.runtime_keys,
                                          platform.upstream_secrets),
                   settings.route_cache_ttl_s),
        loops=platform.loops, wake_fn=database_waker(platform.db, platform.queue),
        autopilot=platform.settings.autopilot,
    )
    platform.key_revoked_listeners.append(gateway.keys.invalidate)
    return gateway
