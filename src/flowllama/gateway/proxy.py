"""Send a request to an instance, retrying on another one while that is still safe.

A retry is safe until the first byte reaches the client: the gateway retries (on an instance
not yet tried, at most ``max_attempts`` in all) when connecting fails, the connection drops
before the response head, or the instance answers 503 (busy or loading). Once the response head
is in, the answer is the client's, whatever happens next. A read timeout before the head is not
retried: the instance may still be generating, and a second one would double the work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from flowllama.errors import ClientError, ServiceUnavailable
from flowllama.gateway.balancer import Balancer
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
    closed: bool = field(default=False)

    def close(self) -> None:
        """Close the upstream response (aborting it when unread, which cancels the upstream's
        work) and stop counting the request as outstanding."""
        if self.closed:
            return
        self.closed = True
        self.balancer.release(self.upstream.instance_id)
        self.response.close()


class UpstreamProxy:
    """Opens requests on the best instance, with bounded retries (see the module doc)."""

    def __init__(self, client: UpstreamClient, balancer: Balancer, max_attempts: int) -> None:
        self.client = client
        self.balancer = balancer
        self.max_attempts = max_attempts

    async def open(self, candidates: Sequence[Upstream], path: str,
                   body_for: Callable[[Upstream], bytes], request_id: str | None = None,
                   *, method: str = "POST", native: bool = False) -> Opened:
        """``method`` ``<instance base url><path>`` (the native API root with ``native``); the
        response head is in when it returns. Raises ``ServiceUnavailable``
        (``no_healthy_instance``) when no attempt succeeded."""
        headers = (*_HEADERS, ("x-request-id", request_id)) if request_id else _HEADERS
        tried: set[str] = set()
        for _ in range(self.max_attempts):
            upstream = self.balancer.pick(candidates, tried)
            if upstream is None:
                break
            tried.add(upstream.instance_id)
            base = upstream.native_base_url if native else upstream.base_url
            assert base is not None
            body = body_for(upstream) if method == "POST" else b""
            response = await self._attempt(upstream, method, base, path, body=body,
                                           headers=headers + upstream.auth_headers)
            if response is not None:
                return Opened(upstream, response, self.balancer)
        raise ServiceUnavailable("No healthy instance could take the request; retry shortly",
                                 code="no_healthy_instance", headers={"Retry-After": "1"})

    async def _attempt(self, upstream: Upstream, method: str, base: str, path: str, *,
                       body: bytes, headers: tuple[tuple[str, str], ...]
                       ) -> UpstreamResponse | None:
        """The response of one instance, or None when the next one should be tried."""
        self.balancer.acquire(upstream.instance_id)
        try:
            response = await self.client.request(method, base, path, body, headers)
        except UpstreamUnreachable as exc:
            self._failed(upstream, str(exc))
            return None
        except UpstreamTimeout as exc:
            self.balancer.release(upstream.instance_id)
            raise GatewayTimeout("The model server did not answer in time") from exc
        except BaseException:
            self.balancer.release(upstream.instance_id)
            raise
        if response.status == 503:
            response.close()
            self._failed(upstream, "HTTP 503")
            return None
        self.balancer.mark_ok(upstream.instance_id)
        return response

    def _failed(self, upstream: Upstream, reason: str) -> None:
        self.balancer.release(upstream.instance_id)
        self.balancer.mark_failed(upstream.instance_id)
        log.warning("gateway.upstream_failed", instance_id=upstream.instance_id,
                    deployment_id=upstream.deployment_id, reason=reason)
