"""Requests to a sleeping deployment: wake it once, then hold the request until it serves.

A request whose deployment is asleep (``Target.asleep``) wakes it — one conditional update in a
worker thread (:func:`flowllama.services.wake.wake`), then a nudge to the agent — unless the
route cache already shows it woken. Then:

* a deployment that starts quickly (local, external, Kubernetes) is waited for: the request is
  held, bounded by ``autopilot.wake_hold_s``, until the owner's fresh routes show a healthy
  instance, and then answered as usual. All requests for one deployment share ONE wait (one
  task polling the routes every :data:`POLL_S`), however many arrive;
* a cloud server (AWS, GCP) takes minutes: the request is answered at once with 503
  ``model_waking`` and ``Retry-After: autopilot.wake_retry_after_s``, as is a held request
  whose hold ran out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import anyio.to_thread

from flowllama.db.session import Database
from flowllama.db.tables import Deployment
from flowllama.errors import FlowLlamaError, ServiceUnavailable
from flowllama.gateway.routes import RouteCache, Target, Upstream
from flowllama.logging import get_logger
from flowllama.queue.base import JobQueue
from flowllama.queue.nudges import nudge
from flowllama.services import wake

log = get_logger(__name__)

CLOUD_WAKES = frozenset({"aws", "gcp"})  # minutes to boot: answer "waking", do not hold
POLL_S = 0.5

WakeFn = Callable[[str], bool]
"""Wake a deployment by id (blocking; run in a thread); True when this call woke it."""
UpstreamsOf = Callable[[Target], Awaitable[list[Upstream]]]
"""The fresh upstreams of a target, read again from the database."""


class ModelWaking(ServiceUnavailable):
    """The deployment was asleep and is starting: retry after ``Retry-After`` seconds."""

    code = "model_waking"


def database_waker(db: Database, queue: JobQueue) -> WakeFn:
    """Wake in the database (committed), then nudge the agent; a lost nudge is found by the
    agent's sweep."""

    def wake_now(deployment_id: str) -> bool:
        with db.session() as session:
            woke = wake.wake(session, deployment_id)
            deployment = session.get(Deployment, deployment_id) if woke else None
        if deployment is not None:
            log.info("gateway.deployment_woken", deployment_id=deployment_id)
            try:
                nudge(queue, deployment)
            except FlowLlamaError as exc:
                log.warning("gateway.wake_nudge_failed", deployment_id=deployment_id,
                            error=str(exc))
        return woke

    return wake_now


class Waker:
    """Wakes asleep deployments and holds their requests (see the module doc); use it on the
    event loop's thread."""

    def __init__(self, wake_fn: WakeFn, routes: RouteCache, hold_s: float, retry_after_s: int,
                 poll_s: float = POLL_S) -> None:
        self._wake_fn = wake_fn
        self._routes = routes
        self.hold_s = hold_s
        self.retry_after_s = retry_after_s
        self.poll_s = poll_s
        self._waits: dict[str, asyncio.Task[list[Upstream]]] = {}

    def waking(self, target: Target) -> ModelWaking:
        return ModelWaking(
            f"The model '{target.name}' was asleep and is waking up; retry in "
            f"{self.retry_after_s} seconds", code="model_waking",
            headers={"Retry-After": str(self.retry_after_s)})

    async def serving(self, user_id: str, target: Target, upstreams_of: UpstreamsOf
                      ) -> list[Upstream]:
        """The upstreams of asleep ``target`` once it serves (after waking it if needed);
        raises :class:`ModelWaking` for a cloud deployment or when the hold runs out."""
        if target.cloud in CLOUD_WAKES or self.hold_s <= 0:
            if target.wake_needed:
                await self._wake(user_id, target)
            raise self.waking(target)
        wait = self._waits.get(target.deployment_id)
        if wait is None:
            wait = asyncio.get_running_loop().create_task(
                self._wait(user_id, target, upstreams_of), name=f"wake-{target.deployment_id}")
            self._waits[target.deployment_id] = wait
            wait.add_done_callback(lambda done: self._finished(target.deployment_id, done))
        # Shielded: one client going away must not cancel the others' shared wait.
        return await asyncio.shield(wait)

    def _finished(self, deployment_id: str, done: asyncio.Task[list[Upstream]]) -> None:
        if self._waits.get(deployment_id) is done:
            del self._waits[deployment_id]
        if not done.cancelled():
            done.exception()  # retrieved here too, so a wait nobody awaits any more is quiet

    async def _wake(self, user_id: str, target: Target) -> None:
        await anyio.to_thread.run_sync(self._wake_fn, target.deployment_id)
        self._routes.invalidate(user_id)  # the next request sees it woken: no second wake

    async def _wait(self, user_id: str, target: Target, upstreams_of: UpstreamsOf
                    ) -> list[Upstream]:
        deadline = time.monotonic() + self.hold_s
        if target.wake_needed:
            await self._wake(user_id, target)
        while True:
            self._routes.invalidate(user_id)
            try:
                upstreams = await upstreams_of(target)
            except ServiceUnavailable:  # stopped or deleted meanwhile: it will not serve
                raise
            except Exception as exc:  # a database hiccup: keep holding, try again
                log.warning("gateway.wake_poll_failed", deployment_id=target.deployment_id,
                            error=str(exc))
                upstreams = []
            if upstreams:
                return upstreams
            if time.monotonic() + self.poll_s > deadline:
                raise self.waking(target)
            await asyncio.sleep(self.poll_s)
