"""``/v1`` with the official ``openai`` client against a real gateway and a real llama.cpp
upstream (tiny model), on SQLite and PostgreSQL: chat plain and streamed, completions, usage
recorded in the rollup, models listed, revoked key refused, another tenant's and unknown models
404, failover to a second instance when the first is dead, and OpenAI error envelopes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from sqlalchemy import select, update

from flowllama.db.session import Database
from flowllama.db.tables import ApiKey, Instance, UsageDaily
from flowllama.db.types import utcnow
from gateway.conftest import Owner, RunningGateway, add_deployment, make_owner
from tiny_model import TinyServer, serve_tiny_model

pytestmark = pytest.mark.slow

MESSAGES: list[Any] = [{"role": "user", "content": "Say hello"}]


def _client(gw: RunningGateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.v1, api_key=key, max_retries=0, timeout=60)


def _usage_rows(db: Database) -> list[UsageDaily]:
    with db.session() as session:
        return list(session.scalars(select(UsageDaily)).all())


def _wait_usage(db: Database, requests: int) -> list[UsageDaily]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = _usage_rows(db)
        if sum(r.requests for r in rows) >= requests:
            return rows
        time.sleep(0.1)
    raise AssertionError(f"usage never reached {requests} requests: {_usage_rows(db)}")


def test_chat_plain_and_streamed_by_deployment_and_model_name_is_metered(
        running_gateway: RunningGateway, upstream: TinyServer, owner: Owner,
        database: Database) -> None:
    deployment = add_deployment(database, owner, "tiny", upstream.model,
                                [upstream.openai_base_url])
    client = _client(running_gateway, owner.key)

    reply = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=4)
    assert reply.choices[0].message.content
    assert reply.usage is not None and reply.usage.completion_tokens == 4

    chunks = list(client.chat.completions.create(
        model=upstream.model, messages=MESSAGES, max_tokens=4, stream=True,
        stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text and len(chunks) > 2
    # llama.cpp sends no usage chunk; the gateway adds one with the counted tokens.
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 4

    plain_stream = list(client.chat.completions.create(
        model="tiny", messages=MESSAGES, max_tokens=4, stream=True))
    assert all(c.usage is None for c in plain_stream)

    rows = _wait_usage(database, 3)
    assert [(r.api_key_id, r.deployment_id, r.model, r.requests) for r in rows] == [
        (owner.key_id, deployment.id, upstream.model, 3)]
    assert rows[0].completion_tokens == 12 and rows[0].prompt_tokens > 0
    with database.session() as session:
        key = session.get(ApiKey, owner.key_id)
        assert key is not None and key.last_used_at is not None


def test_completions_plain_and_streamed(running_gateway: RunningGateway, upstream: TinyServer,
                                        owner: Owner, database: Database) -> None:
    add_deployment(database, owner, "tiny", upstream.model, [upstream.openai_base_url])
    client = _client(running_gateway, owner.key)
    reply = client.completions.create(model="tiny", prompt="Hello", max_tokens=3)
    assert reply.choices[0].text and reply.usage is not None
    chunks = list(client.completions.create(model="tiny", prompt="Hello", max_tokens=3,
                                            stream=True))
    assert "".join(c.choices[0].text for c in chunks if c.choices)


def test_models_lists_the_owners_serving_deployments_only(
        running_gateway: RunningGateway, upstream: TinyServer, owner: Owner,
        database: Database) -> None:
    add_deployment(database, owner, "tiny", upstream.model, [upstream.openai_base_url])
    add_deployment(database, owner, "parked", "llama3.1:8b", [], status="stopped")
    eve = make_owner(database, "eve@example.com")
    add_deployment(database, eve, "secret", "qwen2.5:7b", [upstream.openai_base_url])
    ids = sorted(m.id for m in _client(running_gateway, owner.key).models.list())
    assert ids == sorted(["tiny", upstream.model])


def test_another_tenants_model_is_404_like_a_missing_one(
        running_gateway: RunningGateway, upstream: TinyServer, owner: Owner,
        database: Database) -> None:
    eve = make_owner(database, "eve@example.com")
    add_deployment(database, eve, "evesbot", "local/eve", [upstream.openai_base_url])
    client = _client(running_gateway, owner.key)
    errors = []
    for model in ("evesbot", "local/eve", "no-such-model"):
        with pytest.raises(openai.NotFoundError) as caught:
            client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=1)
        body = caught.value.body
        assert isinstance(body, dict)
        errors.append((body["code"], body["type"], body["message"].replace(model, "M")))
    assert errors[0] == errors[1] == errors[2]
    assert errors[0][:2] == ("model_not_found", "invalid_request_error")


def test_stopped_deployment_is_503_with_retry_after(
        running_gateway: RunningGateway, owner: Owner, database: Database) -> None:
    add_deployment(database, owner, "parked", "local/parked", [], status="stopped")
    response = httpx.post(f"{running_gateway.v1}/chat/completions", json={
        "model": "parked", "messages": MESSAGES}, headers={"Authorization": f"Bearer {owner.key}"})
    assert response.status_code == 503 and response.headers["retry-after"]
    assert response.json()["error"]["code"] == "no_healthy_instance"


def test_revoked_key_is_refused(running_gateway: RunningGateway, upstream: TinyServer,
                                owner: Owner, database: Database) -> None:
    add_deployment(database, owner, "tiny", upstream.model, [upstream.openai_base_url])
    client = _client(running_gateway, owner.key)
    assert client.models.list().data
    # Revoked through another process: this gateway notices within its key cache TTL.
    with database.session() as session:
        session.execute(update(ApiKey).where(ApiKey.id == owner.key_id)
                        .values(revoked_at=utcnow()))
    deadline = time.monotonic() + 5
    while True:
        try:
            client.models.list()
        except openai.AuthenticationError as exc:
            assert isinstance(exc.body, dict) and exc.body["code"] == "invalid_api_key"
            break
        assert time.monotonic() < deadline, "revoked key still accepted after the TTL"
        time.sleep(0.1)


def test_key_revoked_through_this_process_is_refused_at_once(
        running_gateway: RunningGateway, database: Database) -> None:
    http = httpx.Client(base_url=running_gateway.base_url, timeout=30)
    assert http.post("/api/auth/register", json={
        "email": "bo@example.com", "password": "correct horse battery staple"}
    ).status_code == 201
    tokens = http.post("/api/auth/login", json={
        "email": "bo@example.com", "password": "correct horse battery staple"}).json()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    created = http.post("/api/keys", json={"name": "k"}, headers=auth).json()
    client = _client(running_gateway, created["key"])
    assert client.models.list().data == []
    assert http.delete(f"/api/keys/{created['id']}", headers=auth).status_code == 204
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


@pytest.mark.parametrize("header", [None, "Bearer nope", "Bearer fl-" + "x" * 43, "Basic x"])
def test_bad_keys_are_401_in_the_openai_envelope(running_gateway: RunningGateway,
                                                 header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = httpx.get(f"{running_gateway.v1}/models", headers=headers)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "invalid_api_key" and error["type"] == "invalid_request_error"
    assert set(error) == {"message", "type", "param", "code"}


def test_failover_to_a_second_instance_when_the_first_is_dead(
        running_gateway: RunningGateway, upstream: TinyServer, owner: Owner,
        database: Database, dead_endpoint: str) -> None:
    deployment = add_deployment(database, owner, "tiny", upstream.model,
                                [dead_endpoint, upstream.openai_base_url])
    gateway = running_gateway.gateway
    with database.session() as session:
        ids = dict(session.execute(select(Instance.endpoint_url, Instance.id).where(
            Instance.deployment_id == deployment.id)).all())
    live, dead = ids[upstream.openai_base_url], ids[dead_endpoint]
    # Rank the live instance last, so the first attempt certainly goes to the dead one.
    gateway.balancer.mark_failed(live)
    client = _client(running_gateway, owner.key)
    reply = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=2)
    assert reply.choices[0].message.content
    assert gateway.balancer.cooling(dead), "the dead instance was not tried first"
    gateway.balancer.mark_ok(dead)  # and once more for a stream
    gateway.balancer.mark_failed(live)
    chunks = list(client.chat.completions.create(model="tiny", messages=MESSAGES,
                                                 max_tokens=2, stream=True))
    assert any(c.choices and c.choices[0].delta.content for c in chunks)
    assert gateway.balancer.cooling(dead)
    # The stream's last event can reach the client just before the gateway closes upstream.
    deadline = time.monotonic() + 5
    while gateway.balancer.outstanding(live) or gateway.balancer.outstanding(dead):
        assert time.monotonic() < deadline, "requests still counted as outstanding"
        time.sleep(0.05)


def test_bad_request_bodies_are_400_naming_the_field(running_gateway: RunningGateway,
                                                     owner: Owner) -> None:
    headers = {"Authorization": f"Bearer {owner.key}"}
    url = f"{running_gateway.v1}/chat/completions"
    cases = [({"messages": MESSAGES}, "model"), ({"model": "x"}, "messages"),
             ({"model": "x", "messages": MESSAGES, "stream": "yes"}, "stream")]
    for body, param in cases:
        response = httpx.post(url, json=body, headers=headers)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["param"] == param
        assert response.json()["error"]["type"] == "invalid_request_error"
    response = httpx.post(url, content=b"{not json", headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_health_needs_no_key_and_unknown_paths_are_404_envelopes(
        running_gateway: RunningGateway) -> None:
    assert httpx.get(f"{running_gateway.v1}/health").json() == {"status": "ok"}
    response = httpx.get(f"{running_gateway.v1}/nope")
    assert response.status_code == 404 and response.json()["error"]["type"]


def test_failover_when_an_instance_in_use_is_killed(
        running_gateway: RunningGateway, upstream: TinyServer, owner: Owner,
        database: Database, tiny_model_file: Path, tmp_path: Path) -> None:
    with serve_tiny_model(tiny_model_file, tmp_path) as doomed:
        deployment = add_deployment(database, owner, "tiny", upstream.model,
                                    [doomed.openai_base_url, upstream.openai_base_url])
        with database.session() as session:
            ids = dict(session.execute(select(Instance.endpoint_url, Instance.id).where(
                Instance.deployment_id == deployment.id)).all())
        gateway = running_gateway.gateway
        live, dead = ids[upstream.openai_base_url], ids[doomed.openai_base_url]
        client = _client(running_gateway, owner.key)
        gateway.balancer.mark_failed(live)  # the doomed one serves first: a pooled connection
        assert client.chat.completions.create(model="tiny", messages=MESSAGES,
                                              max_tokens=1).choices
        assert not gateway.balancer.cooling(dead)
        doomed.process.kill()
        doomed.process.wait(10)
        gateway.balancer.mark_ok(live)
        gateway.balancer.acquire(live)  # still rank the killed one first
        try:
            reply = client.chat.completions.create(model="tiny", messages=MESSAGES,
                                                   max_tokens=2)
        finally:
            gateway.balancer.release(live)
        assert reply.choices[0].message.content
        assert gateway.balancer.cooling(dead), "the killed instance was not tried first"
