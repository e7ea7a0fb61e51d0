"""The gateway's domain metrics follow real traffic through a scripted upstream: tokens per
deployment and direction, time to first token for streams, upstream head latency, upstream
errors by kind (busy, status_5xx, broken), refusals by code and 429s by reason; and every
series deploy/monitoring's rules and dashboards query is exported by a running platform."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from deploy.monitoring.queries import referenced
from flowllama.db.session import Database
from flowllama.metrics import REGISTRY
from gateway.conftest import Owner, RunningGateway, add_deployment, make_owner, wait_usage
from gateway.fake_upstream import USAGE, FakeUpstream, fake_upstream

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    with fake_upstream() as running:
        yield running


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _post(gw: RunningGateway, owner: Owner, model: str, **body: object) -> httpx.Response:
    return httpx.post(f"{gw.v1}/chat/completions", timeout=30,
                      headers={"Authorization": f"Bearer {owner.key}"},
                      json={"model": model, "messages": MESSAGES, **body})


def test_tokens_first_token_and_head_latency_per_deployment(
        running_gateway: RunningGateway, fake: FakeUpstream, owner: Owner,
        database: Database) -> None:
    whole = add_deployment(database, owner, "bot", "fast", [fake.instance("a")]).id
    stream = add_deployment(database, owner, "streamer", "dying", [fake.instance("b")]).id
    assert _post(running_gateway, owner, "bot").status_code == 200
    assert _post(running_gateway, owner, "streamer", stream=True).status_code == 200
    wait_usage(database, 2)
    assert value("flowllama_gateway_tokens_total", deployment=whole,
                 direction="prompt") == USAGE["prompt_tokens"]
    assert value("flowllama_gateway_tokens_total", deployment=whole,
                 direction="completion") == USAGE["completion_tokens"]
    # Only the stream has a first token; both requests had a response head.
    assert value("flowllama_gateway_time_to_first_token_seconds_count", deployment=whole) == 0
    assert value("flowllama_gateway_time_to_first_token_seconds_count", deployment=stream) == 1
    assert value("flowllama_gateway_time_to_first_token_seconds_sum", deployment=stream) > 0
    for deployment in (whole, stream):
        assert value("flowllama_gateway_upstream_head_seconds_count", deployment=deployment) == 1


def test_upstream_errors_by_kind(running_gateway: RunningGateway, fake: FakeUpstream,
                                 owner: Owner, database: Database) -> None:
    busy = add_deployment(database, owner, "busy", "fast", [fake.instance("busy")]).id
    crash = add_deployment(database, owner, "crash", "fast", [fake.instance("crash")]).id
    dying = add_deployment(database, owner, "dying", "dying", [fake.instance("d")]).id
    assert _post(running_gateway, owner, "busy").status_code == 503
    assert _post(running_gateway, owner, "crash").status_code == 502
    assert _post(running_gateway, owner, "dying", stream=True).status_code == 200
    assert value("flowllama_gateway_upstream_errors_total", deployment=busy, kind="busy") == 1
    assert value("flowllama_gateway_upstream_errors_total", deployment=crash,
                 kind="status_5xx") == 1
    assert value("flowllama_gateway_upstream_errors_total", deployment=dying,
                 kind="broken") == 1
    # The gateway's own 502 is counted by its code; nothing labels a series with user text.
    assert value("flowllama_gateway_refusals_total", status="502", code="upstream_error") >= 1


def test_refusals_and_rate_limits_by_reason(running_gateway: RunningGateway,
                                            fake: FakeUpstream, database: Database) -> None:
    limited = make_owner(database, "limited@example.com", rpm=1)
    add_deployment(database, limited, "bot", "fast", [fake.instance("a")])
    before = value("flowllama_gateway_rate_limited_total", reason="requests")
    refused = value("flowllama_gateway_refusals_total", status="429", code="rate_limit_exceeded")
    missing = value("flowllama_gateway_refusals_total", status="404", code="model_not_found")
    assert _post(running_gateway, limited, "bot").status_code == 200
    assert _post(running_gateway, limited, "bot").status_code == 429
    assert _post(running_gateway, limited, "no such model, with user text").status_code == 404
    assert value("flowllama_gateway_rate_limited_total", reason="requests") == before + 1
    assert value("flowllama_gateway_refusals_total", status="429",
                 code="rate_limit_exceeded") == refused + 1
    text = httpx.get(f"{running_gateway.base_url}/metrics").text
    assert "with user text" not in text
    assert value("flowllama_gateway_refusals_total", status="404",
                 code="model_not_found") == missing + 1


def test_every_metric_the_monitoring_kit_queries_is_exported_after_traffic(
        running_gateway: RunningGateway, fake: FakeUpstream, owner: Owner,
        database: Database) -> None:
    add_deployment(database, owner, "bot", "fast", [fake.instance("a")])
    add_deployment(database, owner, "streamer", "dying", [fake.instance("b")])
    assert _post(running_gateway, owner, "bot").status_code == 200
    assert _post(running_gateway, owner, "streamer", stream=True).status_code == 200
    assert _post(running_gateway, owner, "missing").status_code == 404
    wait_usage(database, 2)
    response = httpx.get(f"{running_gateway.base_url}/metrics")
    assert response.status_code == 200
    exported = {family.name for family in text_string_to_metric_families(response.text)}
    metrics, _recorded = referenced()
    assert metrics, "the monitoring kit names no metric"
    assert metrics - exported == set(), "rules or dashboards query series nobody exports"
