"""Requests to a sleeping deployment: the waker wakes it once and holds every concurrent
request on ONE shared wait until it serves; a cloud deployment (or a hold that runs out) is
answered 503 ``model_waking`` with ``Retry-After``. Through a real gateway with the official
clients: ``/v1`` and the Ollama passthrough hold and then answer, 20 concurrent requests wake
it exactly once, ``/v1/models`` lists a sleeping deployment."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import ollama
import openai
import pytest
from sqlalchemy import func, select

from flowllama.db.session import Database
from flowllama.db.tables import Deployment, DeploymentEvent, Instance
from flowllama.domain.lifecycle import Desired, Status
from flowllama.gateway.routes import OwnerRoutes, RouteCache, Target, Upstream
from flowllama.gateway.waking import ModelWaking, Waker
from flowllama.services import wake
from flowllama.settings import Settings
from gateway.conftest import FAST_CACHES, Owner, RunningGateway, add_deployment, make_owner
from gateway.fake_upstream import FakeUpstream, fake_upstream

MESSAGES: list[openai.types.chat.ChatCompletionMessageParam] = [
    {"role": "user", "content": "hi"}]
UPSTREAM = Upstream(instance_id="i", deployment_id="d", deployment_name="bot", model="m",
                    base_url="http://127.0.0.1:1/v1", price_per_hour=None)


def _target(cloud: str = "local") -> Target:
    return Target(deployment_id="d", name="bot", model="m", serving=False, created=0,
                  upstreams=(), asleep=True, wake_needed=True, cloud=cloud)


def _routes() -> RouteCache:
    async def never(user_id: str) -> OwnerRoutes:
        raise AssertionError("the waker reads routes only through upstreams_of")
    return RouteCache(never, 60)


def test_concurrent_requests_share_one_wake_and_one_wait() -> None:
    wakes: list[str] = []
    polls = 0

    async def upstreams_of(target: Target) -> list[Upstream]:
        nonlocal polls
        polls += 1
        return [UPSTREAM] if polls >= 4 else []

    async def scenario() -> list[list[Upstream]]:
        waker = Waker(wakes.append, _routes(), hold_s=30, retry_after_s=7, poll_s=0.01)
        return await asyncio.gather(*(waker.serving("u", _target(), upstreams_of)
                                      for _ in range(20)))

    results = asyncio.run(scenario())
    assert results == [[UPSTREAM]] * 20
    assert wakes == ["d"]
    assert polls == 4  # one poller for all twenty


def test_a_hold_that_runs_out_and_a_cloud_wake_answer_model_waking() -> None:
    wakes: list[str] = []
    polls = 0

    async def upstreams_of(target: Target) -> list[Upstream]:
        nonlocal polls
        polls += 1
        return []

    async def scenario(cloud: str) -> ModelWaking:
        waker = Waker(wakes.append, _routes(), hold_s=0.05, retry_after_s=7, poll_s=0.01)
        with pytest.raises(ModelWaking) as caught:
            await waker.serving("u", _target(cloud), upstreams_of)
        return caught.value

    held = asyncio.run(scenario("local"))
    assert held.status_code == 503 and held.headers == {"Retry-After": "7"}
    assert "waking" in held.message and polls >= 1
    polls = 0
    cloud = asyncio.run(scenario("aws"))
    assert cloud.code == "model_waking" and polls == 0
    assert wakes == ["d", "d"]  # each scenario's deployment woken once


@pytest.fixture
def gateway_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={
        "gateway": settings.gateway.model_copy(update=FAST_CACHES),
        "autopilot": settings.autopilot.model_copy(update={
            "wake_hold_s": 30.0, "wake_retry_after_s": 42})})


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    with fake_upstream() as running:
        yield running


def _asleep(db: Database, owner: Owner, endpoint: str, *, cloud: str = "local",
            runtime: str = "auto") -> Deployment:
    """A sleeping deployment whose (terminated) server was at ``endpoint``."""
    deployment = add_deployment(db, owner, "bot", "fast", [endpoint], runtime=runtime)
    with db.session() as session:
        row = session.get(Deployment, deployment.id)
        assert row is not None
        row.status, row.desired_state, row.cloud = Status.SLEEPING, Desired.SLEEPING, cloud
        for instance in session.scalars(select(Instance)).all():
            instance.status = "terminated"
    return deployment


def _play_agent(db: Database, deployment_id: str, stop: threading.Event) -> threading.Thread:
    """What the agent does on a wake, by hand: once the deployment is woken, its server is
    back (a healthy instance again) and it runs."""
    def run() -> None:
        while not stop.is_set():
            with db.session() as session:
                row = session.get(Deployment, deployment_id)
                assert row is not None
                if row.desired_state == Desired.RUNNING:
                    time.sleep(0.5)  # the start takes a while: requests must wait
                    row.status = Status.RUNNING
                    for instance in session.scalars(select(Instance)).all():
                        instance.status = "healthy"
                    return
            time.sleep(0.05)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_twenty_concurrent_requests_wake_once_and_all_succeed(
        running_gateway: RunningGateway, fake: FakeUpstream, database: Database) -> None:
    owner = make_owner(database, "ada@example.com")
    deployment = _asleep(database, owner, fake.instance("a"))
    client = openai.OpenAI(base_url=running_gateway.v1, api_key=owner.key, max_retries=0,
                           timeout=60)
    assert [m.id for m in client.models.list().data] == ["bot", "fast"]
    stop = threading.Event()
    agent = _play_agent(database, deployment.id, stop)
    try:
        with ThreadPoolExecutor(20) as pool:
            replies = list(pool.map(lambda _: client.chat.completions.create(
                model="bot", messages=MESSAGES), range(20)))
    finally:
        stop.set()
        agent.join(10)
    assert all(reply.choices[0].message.content for reply in replies)
    assert fake.hits["a"] == 20
    with database.session() as session:
        row = session.get(Deployment, deployment.id)
        assert row is not None and row.wake_count == 1
        assert session.scalar(select(func.count()).select_from(DeploymentEvent).where(
            DeploymentEvent.reason == wake.WOKEN_BY_REQUEST)) == 1


def test_the_ollama_passthrough_waits_for_the_wake(
        running_gateway: RunningGateway, fake: FakeUpstream, database: Database) -> None:
    owner = make_owner(database, "ada@example.com")
    deployment = _asleep(database, owner, fake.instance("a"), runtime="ollama")
    listed = httpx.get(f"{running_gateway.base_url}/models",
                       headers={"Authorization": f"Bearer {owner.key}"})
    assert listed.json() == {"models": [{"name": "bot", "model": "fast", "path": "/ollama/bot"}]}
    stop = threading.Event()
    agent = _play_agent(database, deployment.id, stop)
    try:
        client = ollama.Client(host=f"{running_gateway.base_url}/ollama/bot",
                               headers={"Authorization": f"Bearer {owner.key}"}, timeout=30)
        parts = [p.message.content for p in client.chat(
            model="fast", messages=[{"role": "user", "content": "hi"}], stream=True)]
    finally:
        stop.set()
        agent.join(10)
    assert "".join(p or "" for p in parts) == "hey"


def test_a_sleeping_cloud_deployment_answers_model_waking(
        running_gateway: RunningGateway, fake: FakeUpstream, database: Database) -> None:
    owner = make_owner(database, "ada@example.com")
    deployment = _asleep(database, owner, fake.instance("a"), cloud="aws")
    client = openai.OpenAI(base_url=running_gateway.v1, api_key=owner.key, max_retries=0)
    for _ in range(3):
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(model="bot", messages=MESSAGES)
        assert caught.value.status_code == 503
        assert caught.value.response.headers["retry-after"] == "42"
        error = caught.value.response.json()["error"]
        assert error["code"] == "model_waking" and "waking" in error["message"]
    with database.session() as session:
        row = session.get(Deployment, deployment.id)
        assert row is not None and (row.desired_state, row.wake_count) == (Desired.RUNNING, 1)
    assert fake.hits["a"] == 0


def test_a_deployment_stopped_during_the_wake_stops_the_hold(
        running_gateway: RunningGateway, fake: FakeUpstream, database: Database) -> None:
    owner = make_owner(database, "ada@example.com")
    deployment = _asleep(database, owner, fake.instance("a"))

    def stop_when_woken() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with database.session() as session:
                row = session.get(Deployment, deployment.id)
                assert row is not None
                if row.desired_state == Desired.RUNNING:
                    row.desired_state, row.status = Desired.STOPPED, Status.STOPPED
                    return
            time.sleep(0.05)

    stopper = threading.Thread(target=stop_when_woken, daemon=True)
    stopper.start()
    client = openai.OpenAI(base_url=running_gateway.v1, api_key=owner.key, max_retries=0)
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="bot", messages=MESSAGES)
    stopper.join(10)
    assert caught.value.status_code == 503
    # Not "model_waking": the hold ended because the deployment will not serve, not on time.
    assert caught.value.response.json()["error"]["code"] == "no_healthy_instance"


def test_is_asleep() -> None:
    from flowllama.gateway.routes import is_asleep

    assert is_asleep(Desired.SLEEPING, Status.RUNNING, 0)
    assert is_asleep(Desired.RUNNING, Status.SLEEPING, 0)
    assert is_asleep(Desired.RUNNING, Status.STARTING, 1)
    assert not is_asleep(Desired.RUNNING, Status.STARTING, 0)  # a first start is not a wake
    assert not is_asleep(Desired.RUNNING, Status.RUNNING, 3)
    assert not is_asleep(Desired.STOPPED, Status.STOPPED, 1)
