"""Least outstanding requests, random among equals, failed instances last, exclusions."""

from __future__ import annotations

import random

from flowllama.gateway.balancer import Balancer
from flowllama.gateway.routes import Upstream


def _up(name: str) -> Upstream:
    return Upstream(instance_id=name, deployment_id="d", deployment_name="n", model="m",
                    base_url=f"http://{name}/v1", price_per_hour=None)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_fewest_outstanding_wins() -> None:
    balancer = Balancer(10)
    a, b, c = _up("a"), _up("b"), _up("c")
    balancer.acquire("a")
    balancer.acquire("a")
    balancer.acquire("b")
    assert balancer.pick([a, b, c]) == c
    balancer.acquire("c")
    balancer.acquire("c")
    assert balancer.pick([a, b, c]) == b
    balancer.release("a")
    balancer.release("a")
    assert balancer.pick([a, b, c]) == a
    assert balancer.outstanding("a") == 0


def test_ties_are_shared() -> None:
    balancer = Balancer(10, rng=random.Random(1))
    ups = [_up("a"), _up("b"), _up("c")]
    picked = {balancer.pick(ups).instance_id for _ in range(60)}  # type: ignore[union-attr]
    assert picked == {"a", "b", "c"}


def test_failed_instance_is_last_until_the_cooldown_ends() -> None:
    clock = Clock()
    balancer = Balancer(5, clock=clock)
    a, b = _up("a"), _up("b")
    balancer.mark_failed("a")
    for _ in range(3):
        balancer.acquire("b")
    assert balancer.pick([a, b]) == b  # busy beats broken
    assert balancer.cooling("a")
    clock.now += 5.1
    assert not balancer.cooling("a")
    assert balancer.pick([a, b]) == a
    balancer.mark_failed("b")
    balancer.mark_ok("b")
    assert not balancer.cooling("b")


def test_excluded_and_empty() -> None:
    balancer = Balancer(5)
    a, b = _up("a"), _up("b")
    assert balancer.pick([a, b], exclude={"a"}) == b
    assert balancer.pick([a, b], exclude={"a", "b"}) is None
    assert balancer.pick([]) is None
    balancer.release("never-acquired")  # harmless
    assert balancer.outstanding("never-acquired") == 0
