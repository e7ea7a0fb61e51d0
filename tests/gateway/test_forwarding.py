"""Relaying against a scripted upstream: client disconnect cancels the upstream at once, an
upstream dying mid-stream ends the client's stream with an error event (never a retry) and the
usage so far is recorded, 503 before the first byte is retried on another instance (bounded)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from flowllama.db.session import Database
from gateway.conftest import Owner, RunningGateway, add_deployment, wait_usage
from gateway.fake_upstream import FakeUpstream, fake_upstream

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
