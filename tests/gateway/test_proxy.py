"""The proxy's in-flight cap holds across retried attempts, with a scripted upstream client."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from flowllama.errors import ServiceUnavailable
from flowllama.gateway.balancer import Balancer
from flowllama.gateway.proxy import UpstreamProxy
from flowllama.gateway.routes import Upstream
from flowllama.gateway.upstream import UpstreamUnreachable


def _upstream(name: str) -> Upstream:
    return Upstream(instance_id=name, deployment_id="d", deployment_name="n", model="m",
                    base_url=f"http://{name}.invalid/v1", price_per_hour=None, parallel=1)


class _Unreachable:
    """Every request fails to connect; before failing, the first one lets ``meanwhile`` run
    (another request of the process taking a slot while this one was connecting)."""

    def __init__(self, meanwhile: Any) -> None:
        self.meanwhile = meanwhile
        self.requests: list[str] = []

    async def request(self, method: str, base: str, *args: Any, **kwargs: Any) -> Any:
        self.requests.append(base)
        await asyncio.sleep(0)
        if len(self.requests) == 1:
            self.meanwhile()
        raise UpstreamUnreachable("connection refused")


def test_a_retry_does_not_go_over_the_in_flight_cap() -> None:
    first, second = _upstream("a"), _upstream("b")
    balancer = Balancer(cooldown_s=10)
    # While the attempt on one instance connects, another request fills the other instance.
    client = _Unreachable(lambda: balancer.acquire(
        second.instance_id if client.requests[0].startswith("http://a.") else first.instance_id))
    proxy = UpstreamProxy(client, balancer, max_attempts=3,  # type: ignore[arg-type]
                          inflight_per_slot=1)
    with pytest.raises(ServiceUnavailable) as caught:
        asyncio.run(proxy.open([first, second], "/chat/completions", lambda _u: b"{}"))
    assert caught.value.code == "deployment_busy"
    assert len(client.requests) == 1  # the full instance was never tried
    assert max(balancer.outstanding("a"), balancer.outstanding("b")) == 1


def test_with_every_instance_tried_the_answer_is_no_healthy_instance() -> None:
    balancer = Balancer(cooldown_s=10)
    client = _Unreachable(lambda: None)
    proxy = UpstreamProxy(client, balancer, max_attempts=3,  # type: ignore[arg-type]
                          inflight_per_slot=1)
    with pytest.raises(ServiceUnavailable) as caught:
        asyncio.run(proxy.open([_upstream("a"), _upstream("b")], "/chat/completions",
                               lambda _u: b"{}"))
    assert caught.value.code == "no_healthy_instance"
    assert len(client.requests) == 2
