"""The gateway service wired together, against a scripted upstream: a key's model allow-list,
rate limits answered 429 with Retry-After through the ``openai`` client, then recovery."""

from __future__ import annotations

import time
from collections.abc import Iterator

import openai
import pytest
from sqlalchemy import select

from flowllama.db.session import Database
from flowllama.db.tables import Instance, UsageDaily
from flowllama.db.types import utcnow
from flowllama.gateway import routes
from flowllama.gateway.limits import RateLimiter
from flowllama.gateway.routes import RouteCache
from gateway.conftest import RunningGateway, add_deployment, make_owner
from gateway.fake_upstream import FakeUpstream, fake_upstream
from tiny_model import free_port

MESSAGES: list[openai.types.chat.ChatCompletionMessageParam] = [
    {"role": "user", "content": "hi"}]


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    with fake_upstream() as running:
        yield running


def test_rate_limit_429_then_recovery(running_gateway: RunningGateway, fake: FakeUpstream,
                                      database: Database) -> None:
    owner = make_owner(database, "ada@example.com", rpm=2)
    add_deployment(database, owner, "bot", "fast", [fake.instance("a")])
    now = [1000.0]
    running_gateway.gateway.limiter = RateLimiter(clock=lambda: now[0])
    client = openai.OpenAI(base_url=running_gateway.v1, api_key=owner.key, max_retries=0)
    for _ in range(2):
        client.chat.completions.create(model="bot", messages=MESSAGES)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="bot", messages=MESSAGES)
    retry_after = int(caught.value.response.headers["retry-after"])
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["code"] == "rate_limit_exceeded"
    assert fake.hits["a"] == 2, "a refused request reached the upstream"
    now[0] += retry_after
    assert client.chat.completions.create(model="bot", messages=MESSAGES).choices


def test_model_allow_list_hides_other_deployments(running_gateway: RunningGateway,
                                                  fake: FakeUpstream,
                                                  database: Database) -> None:
    owner = make_owner(database, "ada@example.com", models=["bot"])
    add_deployment(database, owner, "bot", "fast", [fake.instance("a")])
    add_deployment(database, owner, "other", "fast2", [fake.instance("a")])
    client = openai.OpenAI(base_url=running_gateway.v1, api_key=owner.key, max_retries=0)
    assert sorted(m.id for m in client.models.list()) == ["bot", "fast"]
    assert client.chat.completions.create(model="bot", messages=MESSAGES).choices
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="other", messages=MESSAGES)


def test_monthly_budget_429_insufficient_quota(running_gateway: RunningGateway,
                                               fake: FakeUpstream, database: Database) -> None:
    owner = make_owner(database, "ada@example.com", monthly_token_budget=20)
    add_deployment(database, owner, "bot", "fast", [fake.instance("a")])
    client = openai.OpenAI(base_url=running_gateway.v1, api_key=owner.key, max_retries=0)
    client.chat.completions.create(model="bot", messages=MESSAGES)  # 13 tokens
    client.chat.completions.create(model="bot", messages=MESSAGES)  # 26: over, but admitted
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="bot", messages=MESSAGES)
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["code"] == caught.value.body["type"] == "insufficient_quota"
    assert int(caught.value.response.headers["retry-after"]) >= 1
    assert fake.hits["a"] == 2


def test_embeddings_are_forwarded_and_metered(running_gateway: RunningGateway,
                                              fake: FakeUpstream, database: Database) -> None:
    owner = make_owner(database, "ada@example.com")
    add_deployment(database, owner, "emb", "nomic-embed-text", [fake.instance("a")])
    client = openai.OpenAI(base_url=running_gateway.v1, api_key=owner.key, max_retries=0)
    result = client.embeddings.create(model="emb", input="hello")
    assert result.data[0].embedding == [0.1, 0.2]
    deadline = time.monotonic() + 5
    while True:
        with database.session() as session:
            rows = session.execute(select(UsageDaily.prompt_tokens,
                                          UsageDaily.completion_tokens)).all()
        if rows:
            break
        assert time.monotonic() < deadline, "embeddings usage was not recorded"
        time.sleep(0.05)
    assert [tuple(r) for r in rows] == [(3, 0)]


def test_a_server_replaced_on_another_port_is_found_at_once(
        running_gateway: RunningGateway, fake: FakeUpstream, database: Database) -> None:
    # Routes cached for an hour: only the retry on fresh routes can find the new server.
    gateway = running_gateway.gateway
    gateway.routes = RouteCache(routes.database_loader(database), ttl_s=3600)
    owner = make_owner(database, "ada@example.com")
    bot = add_deployment(database, owner, "bot", "fast", [f"http://127.0.0.1:{free_port()}/v1"])
    client = openai.OpenAI(base_url=running_gateway.v1, api_key=owner.key, max_retries=0)
    with pytest.raises(openai.InternalServerError):  # 503: its only server is gone
        client.chat.completions.create(model="bot", messages=MESSAGES)
    with database.session() as session:  # the agent replaced it (a restart on a new port)
        for old in session.scalars(select(Instance).where(Instance.deployment_id == bot.id)):
            old.terminated_at, old.status = utcnow(), "terminated"
        session.add(Instance(deployment_id=bot.id, provider="local", status="healthy",
                             endpoint_url=fake.instance("b"), price_per_hour=0.0))
    assert client.chat.completions.create(model="bot", messages=MESSAGES).choices
    assert fake.hits["b"] == 1
