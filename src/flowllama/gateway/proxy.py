"""Send a request to an instance, retrying on another one while that is still safe.

A retry is safe until the first byte reaches the client: the gateway retries (on an instance
not yet tried, at most ``max_attempts`` in all) when connecting fails, the connection drops
before the response head, or the instance answers 503 (busy or loading). Once the response head
is in, the answer is the client's, whatever happens next. A read timeout before the head is not
retried: the instance may still be generating, and a second one would double the work.

An instance takes at most ``parallel x inflight_per_slot`` requests from this gateway process
at a time (``parallel``: its deployment's slots; the runtime queues what its slots cannot
take): beyond that, it is skipped, and when every candidate is full the request is refused at
once with 503 ``deployment_busy`` and ``Retry-After``. The cap is checked before every attempt,
retries included, and an attempt counts against it from the moment it is picked (no ``await``
in between), so it holds exactly per process. A stuck tenant therefore holds a bounded number of
connections while its timeouts run out, before its circuit opens.

Each deployment's :class:`~flowllama.gateway.breaker.CircuitBreaker` circuit is consulted
first (an open one is refused at once with 503 ``circuit_open`` and ``Retry-After``) and told
how each request ended: :meth:`Opened.close` reports a completed answer the client gets as it
is (2xx, 3xx, or a refusal in :data:`CLIENT_REFUSALS`) as a success, any other answer
(:func:`upstream_fault`: a 5xx other than a busy 503, or a 4xx such as a 401 after the runtime
key was rotated, that the client cannot act on) as a failure, and :meth:`Opened.fail` a broken
or stalled one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from flowllama.errors import ClientError, ServiceUnavailable
from flowllama.gateway import telemetry
from flowllama.gateway.balancer import Balancer
from flowllama.gateway.breaker import CircuitBreaker
from flowllama.gateway.load_report import LoadCounter
from flowllama.gateway.routes import Upstream
from flowllama.gateway.upstream import (
    UpstreamClient,
    UpstreamResponse,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from flowllama.logging import get_logger

log = get_logger(__name__)

_HEADERS = (("content-type", "application/json"), ("accept-encoding", "identity"))
# A runtime's 4xx that the client caused and can act on (a bad or oversized request, a rate
# limit). Any other 4xx (401/403 of a runtime holding an old key, 404/405 of a path the gateway
# got wrong) is the platform's fault: the client gets a 502 and the breaker a failure.
CLIENT_REFUSALS = frozenset({400, 413, 422, 429})


def upstream_fault(status: int) -> bool:
    """Whether a runtime's answer with ``status`` is its (or the gateway's) failure rather than
    an answer for the client: a 5xx other than a busy 503, or a 4xx not in
    :data:`CLIENT_REFUSALS`."""
    if status >= 500:
        return status != 503
    return status >= 400 and status not in CLIENT_REFUSALS


class GatewayTimeout(ClientError):
    """The instance took longer than the upstream timeout to answer."""

    status_code = 504
    code = "upstream_timeout"


class UpstreamBroke(ClientError):
    """The instance broke off its answer after the head (nothing is retried then)."""

    status_code = 502
    code = "upstream_error"


@dataclass
class Opened:
    """An instance's response whose head has arrived; :meth:`close` must always be called."""

    upstream: Upstream
    response: UpstreamResponse
    balancer: Balancer
    breaker: CircuitBreaker
    request_id: str | None = None
    started_at: float = field(default_factory=time.monotonic)  # when the first attempt began
    closed: bool = field(default=False)
    failed: bool = field(default=False)
    relaying: bool = field(default=False)
    load: LoadCounter | None = None

    def fail(self, kind: str) -> None:
        """The answer failed (``kind``: status_5xx, status_4xx, broken, stalled or timeout): a
        failure of the deployment for its breaker, counted once."""
        if not self.failed:
            self.failed = True
            self.breaker.failed(self.upstream.deployment_id)
            telemetry.upstream_error(self.upstream.deployment_id, kind)

    def relayed(self) -> None:
        """A stream event reached the client: the first one is the time to first token."""
        if not self.relaying:
            self.relaying = True
            seconds = time.monotonic() - self.started_at
            telemetry.first_token(self.upstream.deployment_id, seconds)
            if self.load is not None:
                self.load.first_token(self.upstream, seconds)

    def close(self) -> None:
        """Close the upstream response (aborting it when unread, which cancels the upstream's
        work), stop counting the request as outstanding and tell the breaker how it went."""
        if self.closed:
            return
        self.closed = True
        self.balancer.release(self.upstream.instance_id)
        status = self.response.status
        if upstream_fault(status):
            self.fail("status_5xx" if status >= 500 else "status_4xx")
        elif self.response.completed and not self.failed:
            self.breaker.succeeded(self.upstream.deployment_id)
        self.response.close()


class UpstreamProxy:
    """Opens requests on the best instance, with bounded retries (see the module doc)."""

    def __init__(self, client: UpstreamClient, balancer: Balancer, max_attempts: int, *,
                 breaker: CircuitBreaker | None = None, first_byte_timeout_s: float | None = None,
                 idle_timeout_s: float | None = None, whole_answer_timeout_s: float | None = None,
                 inflight_per_slot: int | None = None, load: LoadCounter | None = None) -> None:
        self.client = client
        self.load = load
        self.balancer = balancer
        self.max_attempts = max_attempts
        self.breaker = breaker or CircuitBreaker(failures=5, cooldown_s=30.0)
        self.first_byte_timeout_s = first_byte_timeout_s
        self.idle_timeout_s = idle_timeout_s
        self.whole_answer_timeout_s = whole_answer_timeout_s
        self.inflight_per_slot = inflight_per_slot

    async def open(self, candidates: Sequence[Upstream], path: str,
                   body_for: Callable[[Upstream], bytes], request_id: str | None = None,
                   *, method: str = "POST", native: bool = False, stream: bool = True
                   ) -> Opened:
        """``method`` ``<instance base url><path>`` (the native API root with ``native``); the
        response head is in when it returns. A ``stream`` answer's head must come within the
        first-byte timeout; a whole answer's head, which comes only after the generation, within
        the whole-answer timeout; later bytes within the idle timeout of the one before (else
        ``GatewayTimeout``, 504). Raises ``ServiceUnavailable`` (``no_healthy_instance``) when no
        attempt succeeded, (``circuit_open``) when every deployment's circuit is open, or
        (``deployment_busy``) when every instance is at its in-flight cap."""
        started = time.monotonic()
        headers = (*_HEADERS, ("x-request-id", request_id)) if request_id else _HEADERS
        candidates = self._admitted(candidates)
        head_timeout = self.first_byte_timeout_s if stream else self.whole_answer_timeout_s
        timeouts = (head_timeout, self.idle_timeout_s)
        tried: set[str] = set()
        for _ in range(self.max_attempts):
            upstream = self.balancer.pick(self._with_room(candidates, tried), tried)
            if upstream is None:
                break
            tried.add(upstream.instance_id)
            base = upstream.native_base_url if native else upstream.base_url
            assert base is not None
            body = body_for(upstream) if method == "POST" else b""
            response = await self._attempt(upstream, method, base, path, body=body,
                                           headers=headers + upstream.auth_headers,
                                           timeouts=timeouts)
            if response is not None:
                telemetry.upstream_head(upstream.deployment_id, time.monotonic() - started)
                if self.load is not None:
                    self.load.opened(upstream)
                return Opened(upstream, response, self.balancer, self.breaker, request_id,
                              started, load=self.load)
        raise ServiceUnavailable("No healthy instance could take the request; retry shortly",
                                 code="no_healthy_instance", headers={"Retry-After": "1"})

    def _admitted(self, candidates: Sequence[Upstream]) -> Sequence[Upstream]:
        """``candidates`` whose deployment's circuit lets a request through; 503 when none."""
        waits = {d: self.breaker.wait_s(d) for d in {c.deployment_id for c in candidates}}
        if not any(waits.values()):
            return candidates
        admitted = [c for c in candidates if not waits[c.deployment_id]]
        if not admitted:
            retry_after = max(1, math.ceil(min(waits.values())))
            raise ServiceUnavailable(
                "The deployment is failing and is paused; retry later", code="circuit_open",
                headers={"Retry-After": str(retry_after)})
        return admitted

    def _with_room(self, candidates: Sequence[Upstream], tried: set[str]
                   ) -> Sequence[Upstream]:
        """The ``candidates`` not yet ``tried`` that are below their in-flight cap; 503
        ``deployment_busy`` when there are untried ones but none has room."""
        untried = [c for c in candidates if c.instance_id not in tried]
        per_slot = self.inflight_per_slot
        if per_slot is None:
            return untried
        outstanding = self.balancer.outstanding
        roomy = [c for c in untried if outstanding(c.instance_id) < c.parallel * per_slot]
        if not roomy and untried:
            raise ServiceUnavailable(
                "The deployment has too many requests in flight; retry shortly",
                code="deployment_busy", headers={"Retry-After": "1"})
        return roomy

    async def _attempt(self, upstream: Upstream, method: str, base: str, path: str, *,
                       body: bytes, headers: tuple[tuple[str, str], ...],
                       timeouts: tuple[float | None, float | None]
                       ) -> UpstreamResponse | None:
        """The response of one instance, or None when the next one should be tried."""
        self.balancer.acquire(upstream.instance_id)
        try:
            response = await self.client.request(method, base, path, body, headers,
                                                 first_byte_timeout_s=timeouts[0],
                                                 idle_timeout_s=timeouts[1])
        except UpstreamUnreachable as exc:
            self._failed(upstream, str(exc), broken=True)
            return None
        except UpstreamTimeout as exc:
            self.balancer.release(upstream.instance_id)
            self.breaker.failed(upstream.deployment_id)
            telemetry.upstream_error(upstream.deployment_id, "timeout")
            log.warning("gateway.upstream_timeout", instance_id=upstream.instance_id,
                        deployment_id=upstream.deployment_id)
            raise GatewayTimeout("The model server did not answer in time") from exc
        except BaseException:
            self.balancer.release(upstream.instance_id)
            raise
        if response.status == 503:
            response.close()
            self._failed(upstream, "HTTP 503", broken=False)
            return None
        self.balancer.mark_ok(upstream.instance_id)
        return response

    def _failed(self, upstream: Upstream, reason: str, *, broken: bool) -> None:
        """Rank the instance last for a while; a ``broken`` one (not merely busy, 503) also
        counts against its deployment's circuit."""
        self.balancer.release(upstream.instance_id)
        self.balancer.mark_failed(upstream.instance_id)
        telemetry.upstream_error(upstream.deployment_id, "unreachable" if broken else "busy")
        if broken:
            self.breaker.failed(upstream.deployment_id)
        log.warning("gateway.upstream_failed", instance_id=upstream.instance_id,
                    deployment_id=upstream.deployment_id, reason=reason)
