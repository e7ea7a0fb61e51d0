"""The per-deployment circuit breaker: consecutive failures open it for the cooldown, then one
probe decides; a success resets the count; deployments are independent."""

from __future__ import annotations

from flowllama.gateway.breaker import CircuitBreaker
from flowllama.gateway.proxy import upstream_fault


def test_failures_open_the_circuit_then_a_probe_closes_it() -> None:
    now = [100.0]
    breaker = CircuitBreaker(failures=3, cooldown_s=30, clock=lambda: now[0])
    for _ in range(2):
        breaker.failed("d1")
    assert breaker.wait_s("d1") == 0 and not breaker.is_open("d1")
    breaker.failed("d1")
    assert breaker.is_open("d1") and breaker.wait_s("d1") == 30
    assert breaker.retry_after("d1") == 30 and breaker.wait_s("d2") == 0
    now[0] += 30
    assert breaker.wait_s("d1") == 0  # the probe
    assert breaker.wait_s("d1") > 0  # only one at a time
    breaker.succeeded("d1")
    assert breaker.wait_s("d1") == 0 and breaker.wait_s("d1") == 0


def test_a_failed_probe_opens_it_again_and_a_lost_probe_expires() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failures=1, cooldown_s=10, clock=lambda: now[0])
    breaker.failed("d")
    now[0] = 10
    assert breaker.wait_s("d") == 0
    breaker.failed("d")
    assert breaker.wait_s("d") == 10
    now[0] = 20
    assert breaker.wait_s("d") == 0  # a probe that never reports...
    now[0] = 30
    assert breaker.wait_s("d") == 0  # ...does not block the next one after a cooldown


def test_a_success_resets_the_count() -> None:
    breaker = CircuitBreaker(failures=2, cooldown_s=10)
    breaker.failed("d")
    breaker.succeeded("d")
    breaker.failed("d")
    assert not breaker.is_open("d")


def test_answers_the_client_cannot_act_on_are_failures() -> None:
    # A runtime's 401/403 (it holds a rotated key) or 404/405 is the platform's fault.
    assert [s for s in (200, 400, 401, 403, 404, 405, 409, 413, 422, 429, 500, 502, 503)
            if upstream_fault(s)] == [401, 403, 404, 405, 409, 500, 502]
