"""Relaying against a scripted upstream: client disconnect cancels the upstream at once, an
upstream dying mid-stream ends the client's stream with an error event (never a retry) and the
usage so far is recorded, 503 before the first byte is retried on another instance (bounded);
refused fields never reach the runtime, a runtime's 500 (or a 4xx the client cannot act on) is
answered generically and counts against the breaker, a silent or stalled upstream times out
(504, or an error event) and opens its deployment's circuit."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import select

from flowllama.db.session import Database
from flowllama.db.tables import Deployment, Instance
from gateway.conftest import Owner, RunningGateway, add_deployment, wait_usage
from gateway.fake_upstream import FakeUpstream, fake_upstream, stalled_upstream

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    with fake_upstream() as running:
        yield running


def _post(gw: RunningGateway, owner: Owner, model: str, **body: object) -> httpx.Response:
    return httpx.post(f"{gw.v1}/chat/completions", timeout=30,
                      headers={"Authorization": f"Bearer {owner.key}"},
                      json={"model": model, "messages": MESSAGES, **body})


def test_client_disconnect_cancels_the_upstream_and_meters_what_was_sent(
        running_gateway: RunningGateway, fake: FakeUpstream, owner: Owner,
        database: Database) -> None:
    add_deployment(database, owner, "bot", "slow", [fake.instance("a")])
    headers = {"Authorization": f"Bearer {owner.key}"}
    body = {"model": "bot", "messages": MESSAGES, "stream": True}
    with httpx.stream("POST", f"{running_gateway.v1}/chat/completions", json=body,
                      headers=headers, timeout=30) as response:
        assert response.status_code == 200
        received: list[str] = []
        for line in response.iter_lines():
            if line.startswith("data:"):
                received.append(line)
            if len(received) == 3:
                break
    started = time.monotonic()
    assert fake.cut_off.wait(5), "the upstream kept generating after the client left"
    assert time.monotonic() - started < 5
    requests, _prompt, completion = wait_usage(database, 1)
    assert requests == 1 and completion >= 3


def test_upstream_dying_mid_stream_ends_with_an_error_event_and_no_retry(
        running_gateway: RunningGateway, fake: FakeUpstream, owner: Owner,
        database: Database) -> None:
    add_deployment(database, owner, "bot", "dying", [fake.instance("a"), fake.instance("b")])
    response = _post(running_gateway, owner, "bot", stream=True)
    events = [json.loads(line[5:]) for line in response.text.splitlines()
              if line.startswith("data:") and "[DONE]" not in line]
    assert [e["choices"][0]["delta"]["content"] for e in events[:-1]] == ["a", "b"]
    assert events[-1]["error"]["code"] == "upstream_error"
    assert sum(fake.hits.values()) == 1, "a stream that had started was retried"
    assert wait_usage(database, 1)[2] == 2


def test_503_before_the_first_byte_is_retried_on_another_instance(
        running_gateway: RunningGateway, fake: FakeUpstream, owner: Owner,
        database: Database) -> None:
    add_deployment(database, owner, "bot", "fast", [fake.instance("busy"), fake.instance("ok")])
    for _ in range(4):
        response = _post(running_gateway, owner, "bot")
        assert response.status_code == 200, response.text
        assert response.json()["usage"]["prompt_tokens"] == 11
    assert fake.hits["ok"] == 4
    assert fake.hits["busy"] <= 1, "a busy instance should be tried last after it failed"


def test_retries_are_bounded_and_end_in_503(running_gateway: RunningGateway,
                                            fake: FakeUpstream, owner: Owner,
                                            database: Database) -> None:
    add_deployment(database, owner, "bot", "fast",
                   [fake.instance("busy"), fake.instance("busy"), fake.instance("busy"),
                    fake.instance("busy")])
    response = _post(running_gateway, owner, "bot")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "no_healthy_instance"
    assert response.headers["retry-after"]
    assert fake.hits["busy"] == running_gateway.platform.settings.gateway.max_attempts


def test_oversized_body_is_413(running_gateway: RunningGateway, owner: Owner) -> None:
    limit = running_gateway.platform.settings.gateway.max_body_bytes
    response = _post(running_gateway, owner, "bot", padding="x" * limit)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize("extra", [
    {"grammar": "root ::=((("}, {"api_base": "http://x"}, {"base_url": "http://x"},
    {"custom_llm_provider": "openai"}, {"extra_headers": {"a": "b"}},
    {"options": {"num_ctx": 1000000}}, {"max_tokens": 1e9}, {"max_tokens": 513},
    {"n": 100}, {"stop": ["s"] * 10_000},
    {"tools": [{"type": "function", "function": {"name": "f"}}] * 1000}])
def test_refused_fields_are_openai_400s_and_never_reach_the_runtime(
        running_gateway: RunningGateway, fake: FakeUpstream, owner: Owner,
        database: Database, extra: dict[str, object]) -> None:
    add_deployment(database, owner, "bot", "fast", [fake.instance("a")])  # context 512
    response = _post(running_gateway, owner, "bot", **extra)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == next(iter(extra))
    assert set(error) == {"message", "type", "param", "code"}
    assert not fake.hits
    assert _post(running_gateway, owner, "bot", max_tokens=512).status_code == 200


def test_a_runtime_500_is_generic_with_the_request_id(
        running_gateway: RunningGateway, fake: FakeUpstream, owner: Owner,
        database: Database) -> None:
    add_deployment(database, owner, "bot", "fast", [fake.instance("crash")])
    for stream in (False, True):
        response = _post(running_gateway, owner, "bot", stream=stream)
        assert response.status_code == 502
        error = response.json()["error"]
        assert error["code"] == "upstream_error"
        assert response.headers["x-request-id"] in error["message"]
        assert "/opt/secret" not in response.text and "llama" not in response.text


@pytest.mark.parametrize(("instance", "code", "message"), [
    ("refuse", "upstream_refused", "The model server refused the request (HTTP 400"),
    ("overflow", "context_length_exceeded", "The request exceeds the deployment's context")])
def test_a_runtime_4xx_is_an_openai_error_with_the_request_id(
        running_gateway: RunningGateway, fake: FakeUpstream, owner: Owner, database: Database,
        instance: str, code: str, message: str) -> None:
    add_deployment(database, owner, "bot", "fast", [fake.instance(instance)])
    for stream in (False, True):
        response = _post(running_gateway, owner, "bot", stream=stream)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error == {"message": error["message"], "type": "invalid_request_error",
                         "param": None, "code": code}
        assert error["message"].startswith(message)
        assert response.headers["x-request-id"] in error["message"]
        assert "/opt/secret" not in response.text and "llama" not in response.text


@pytest.mark.parametrize("status", [413, 422, 429])
def test_a_runtime_refusal_the_client_can_act_on_keeps_its_status(
        running_gateway: RunningGateway, fake: FakeUpstream, owner: Owner, database: Database,
        status: int) -> None:
    running_gateway.gateway.breaker.failures = 1
    add_deployment(database, owner, "bot", "fast", [fake.instance(f"http{status}")])
    for stream in (False, True, False):  # never a breaker failure: no circuit opens
        response = _post(running_gateway, owner, "bot", stream=stream)
        assert response.status_code == status
        error = response.json()["error"]
        assert error["code"] == "upstream_refused"
        assert error["message"].startswith(f"The model server refused the request (HTTP {status}")
        assert "/opt/secret" not in response.text


@pytest.mark.parametrize("status", [401, 403, 404, 405, 409])
def test_a_runtime_4xx_the_client_cannot_act_on_is_a_502_and_a_breaker_failure(
        running_gateway: RunningGateway, fake: FakeUpstream, owner: Owner, database: Database,
        status: int) -> None:
    # A runtime still holding a rotated key answers 401: passed on, the OpenAI SDK would raise
    # AuthenticationError and blame the user's own API key.
    gateway = running_gateway.gateway
    gateway.breaker.failures = 2
    add_deployment(database, owner, "bot", "fast", [fake.instance(f"http{status}")])
    for stream in (False, True):
        response = _post(running_gateway, owner, "bot", stream=stream)
        assert response.status_code == 502, response.text
        error = response.json()["error"]
        assert error["code"] == "upstream_error"
        assert response.headers["x-request-id"] in error["message"]
        assert "/opt/secret" not in response.text
    refused = _post(running_gateway, owner, "bot")
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "circuit_open"


@pytest.mark.parametrize("stream", [True, False])
def test_a_silent_upstream_is_a_504_at_the_first_byte_timeout(
        running_gateway: RunningGateway, owner: Owner, database: Database,
        stream: bool) -> None:
    # A whole answer's head timeout is its own (longer) setting: each is set apart here, so
    # the other one (60 s or 180 s, beyond the client's 30 s) would fail the test.
    proxy = running_gateway.gateway.proxy
    if stream:
        proxy.first_byte_timeout_s = 0.5
    else:
        proxy.whole_answer_timeout_s = 0.5
    with stalled_upstream("silent") as silent:
        add_deployment(database, owner, "bot", "fast", [silent])
        started = time.monotonic()
        response = _post(running_gateway, owner, "bot", stream=stream)
    assert response.status_code == 504
    assert time.monotonic() - started < 10
    assert response.json()["error"]["code"] == "upstream_timeout"


def test_a_stream_that_stops_ends_with_an_error_event(
        running_gateway: RunningGateway, owner: Owner, database: Database) -> None:
    running_gateway.gateway.proxy.idle_timeout_s = 0.5
    with stalled_upstream("stops") as stops:
        add_deployment(database, owner, "bot", "fast", [stops])
        response = _post(running_gateway, owner, "bot", stream=True)
    assert response.status_code == 200
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert len(events) == 2 and json.loads(events[0])["choices"]
    assert json.loads(events[-1])["error"]["code"] == "upstream_timeout"


@pytest.mark.parametrize("stream", [True, False])
def test_a_stuck_deployment_opens_its_circuit_and_is_refused_at_once(
        running_gateway: RunningGateway, fake: FakeUpstream, owner: Owner,
        database: Database, stream: bool) -> None:
    gateway = running_gateway.gateway
    gateway.proxy.first_byte_timeout_s = 0.3
    gateway.proxy.whole_answer_timeout_s = 0.3
    gateway.breaker.failures = 2
    add_deployment(database, owner, "good", "fast", [fake.instance("a")])
    with stalled_upstream("silent") as silent:
        add_deployment(database, owner, "bot", "fast2", [silent])
        for _ in range(2):
            assert _post(running_gateway, owner, "bot", stream=stream).status_code == 504
        refused = _post(running_gateway, owner, "bot", stream=stream)
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "circuit_open"
    assert 1 <= int(refused.headers["retry-after"]) <= gateway.breaker.cooldown_s
    assert _post(running_gateway, owner, "good").status_code == 200  # others unaffected


def test_a_stuck_deployment_holds_at_most_its_in_flight_cap(
        running_gateway: RunningGateway, fake: FakeUpstream, owner: Owner,
        database: Database) -> None:
    gateway = running_gateway.gateway
    gateway.proxy.inflight_per_slot = 2  # parallel 1: two requests in flight per instance
    gateway.proxy.whole_answer_timeout_s = 5
    add_deployment(database, owner, "good", "fast", [fake.instance("a")])
    with stalled_upstream("silent") as silent, ThreadPoolExecutor(2) as pool:
        stuck = _instance_id(database, add_deployment(database, owner, "bot", "fast2", [silent]))
        held = [pool.submit(_post, running_gateway, owner, "bot") for _ in range(2)]
        deadline = time.monotonic() + 10
        while gateway.balancer.outstanding(stuck) < 2:
            assert time.monotonic() < deadline, "the two requests never reached the upstream"
            time.sleep(0.05)
        started = time.monotonic()
        refused = _post(running_gateway, owner, "bot", stream=True)
        assert time.monotonic() - started < 4  # refused at once, not after a timeout
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "deployment_busy"
        assert refused.headers["retry-after"] == "1"
        assert _post(running_gateway, owner, "good").status_code == 200  # others unaffected
        assert [f.result().status_code for f in held] == [504, 504]
    assert gateway.balancer.outstanding(stuck) == 0  # the cap is free again


def _instance_id(database: Database, deployment: Deployment) -> str:
    with database.session() as session:
        return session.scalars(select(Instance.id).where(
            Instance.deployment_id == deployment.id)).one()
