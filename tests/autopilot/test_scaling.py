"""The load-based scaler on SQLite and PostgreSQL: it reads the gateways' fresh load rows,
steps ``replicas_desired`` one at a time within min..max, waits for a step to land, scales
down only after load stayed low long enough, and records each step (event, nudge; the agent
sends the webhook) exactly once even when two controllers run."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from flowllama.autopilot.composition import autopilot_tasks
from flowllama.autopilot.scaling import TIMES, LoadScaler
from flowllama.db.autopilot_tables import GatewayLoad
from flowllama.db.tables import (
    Deployment,
    DeploymentEvent,
    Instance,
    User,
    Webhook,
    WebhookDelivery,
)
from flowllama.db.types import utcnow
from flowllama.platform import Platform


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def scaler(platform: Platform, clock: Clock) -> LoadScaler:
    settings = platform.settings.autopilot.model_copy(update={
        "load_report_interval_s": 2.0, "scale_up_queue_per_slot": 1.0,
        "scale_up_ttft_ms": None, "scale_down_after_s": 300.0})
    return LoadScaler(platform.db, platform.queue, settings, clock=clock)


def _deployment(platform: Platform, *, replicas: tuple[int, int, int] = (1, 3, 1),
                parallel: int = 1, status: str = "running") -> str:
    low, high, desired = replicas
    with platform.db.session() as session:
        user = User(email="ops@example.com", password_hash="x")
        session.add(user)
        session.flush()
        session.add(Webhook(user_id=user.id, url="https://hooks.example.com/x",
                            events=["deployment.scaled"], secret="s"))
        row = Deployment(user_id=user.id, name="chat", model="local/tiny", context_size=512,
                         parallel=parallel, cloud="local", status=status,
                         desired_state="running", replicas_min=low, replicas_max=high,
                         replicas_desired=desired, generation=2)
        session.add(row)
        session.flush()
        for slot in range(desired):
            _server(session, row.id, f"s{slot}" if slot else "")
        return row.id


def _server(session: Session, deployment_id: str, slot: str, *, generation: int = 2,
            status: str = "healthy") -> None:
    session.add(Instance(deployment_id=deployment_id, provider="local", status=status,
                         slot=slot, generation=generation))


def _load(platform: Platform, deployment_id: str, in_flight: int, *, at: datetime,
          gateway: str = "gw-1", requests: int = 0, ttft_ms: float | None = None) -> None:
    with platform.db.session() as session:
        instance_id = session.scalar(select(Instance.id).where(
            Instance.deployment_id == deployment_id).limit(1))
        assert instance_id is not None
        row = session.get(GatewayLoad, (gateway, instance_id))
        if row is None:
            row = GatewayLoad(gateway_id=gateway, instance_id=instance_id,
                              deployment_id=deployment_id)
            session.add(row)
        row.in_flight, row.requests, row.ttft_ms, row.updated_at = (
            in_flight, requests, ttft_ms, at)


def _desired(platform: Platform, deployment_id: str) -> int:
    with platform.db.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        return row.replicas_desired


def _scale_events(platform: Platform, deployment_id: str) -> list[str]:
    with platform.db.session() as session:
        return [reason for reason in session.scalars(
            select(DeploymentEvent.reason).where(DeploymentEvent.deployment_id == deployment_id)
            .order_by(DeploymentEvent.id)).all() if reason.startswith("scaled")]


def _deliveries(platform: Platform) -> list[dict[str, object]]:
    with platform.db.session() as session:
        return [row.payload for row in session.scalars(select(WebhookDelivery)).all()]


def test_a_queue_above_a_slot_per_replica_scales_up_once_with_event_and_nudge(
        platform: Platform, scaler: LoadScaler, clock: Clock) -> None:
    deployment_id = _deployment(platform)
    _load(platform, deployment_id, 3, at=clock.now, gateway="gw-1")
    _load(platform, deployment_id, 2, at=clock.now, gateway="gw-2")
    assert scaler.run() == 1
    assert _desired(platform, deployment_id) == 2
    assert _scale_events(platform, deployment_id) == [
        f"scaled up to 2 replicas: 5 requests waiting on 1 replica {TIMES} 1 slot"]
    assert _deliveries(platform) == []  # sent by the agent once the server joins
    assert platform.queue.depth().ready == 1
    # The new server is not up yet: the same load does not step again.
    assert scaler.run() == 0 and _desired(platform, deployment_id) == 2


def test_the_next_step_waits_for_the_last_one_to_land_and_stops_at_max(
        platform: Platform, scaler: LoadScaler, clock: Clock) -> None:
    deployment_id = _deployment(platform, replicas=(1, 2, 1))
    _load(platform, deployment_id, 10, at=clock.now)
    assert scaler.run() == 1
    with platform.db.session() as session:
        _server(session, deployment_id, "s1")
    assert scaler.run() == 0 and _desired(platform, deployment_id) == 2  # at max


def test_parallel_slots_count_as_capacity(platform: Platform, scaler: LoadScaler,
                                          clock: Clock) -> None:
    deployment_id = _deployment(platform, parallel=4)
    _load(platform, deployment_id, 4, at=clock.now)
    assert scaler.run() == 0  # 4 requests on 4 slots: exactly full, not queued
    _load(platform, deployment_id, 5, at=clock.now)
    assert scaler.run() == 1
    assert f"5 requests waiting on 1 replica {TIMES} 4 slots" in _scale_events(
        platform, deployment_id)[0]


def test_stale_rows_of_a_gone_gateway_count_nothing(platform: Platform, scaler: LoadScaler,
                                                    clock: Clock) -> None:
    deployment_id = _deployment(platform)
    _load(platform, deployment_id, 50, at=clock.now - timedelta(seconds=7))  # > 3 reports old
    assert scaler.run() == 0 and _desired(platform, deployment_id) == 1


def test_slow_first_tokens_scale_up_when_a_limit_is_set(platform: Platform, clock: Clock,
                                                        scaler: LoadScaler) -> None:
    deployment_id = _deployment(platform)
    _load(platform, deployment_id, 1, at=clock.now, requests=10, ttft_ms=2500.0)
    assert scaler.run() == 0  # no TTFT limit configured, queue within one slot
    timed = LoadScaler(platform.db, platform.queue, scaler.settings.model_copy(
        update={"scale_up_ttft_ms": 1000.0}), clock=clock)
    assert timed.run() == 1
    assert _scale_events(platform, deployment_id) == [
        "scaled up to 2 replicas: time to first token 2500 ms above 1000 ms"]


def test_low_load_scales_down_only_after_it_lasted_and_never_below_min(
        platform: Platform, scaler: LoadScaler, clock: Clock) -> None:
    deployment_id = _deployment(platform, replicas=(1, 3, 2))
    _load(platform, deployment_id, 0, at=clock.now)
    assert scaler.run() == 0  # low since now
    clock.now += timedelta(seconds=200)
    _load(platform, deployment_id, 1, at=clock.now)  # half a slot per replica: not low
    assert scaler.run() == 0
    clock.now += timedelta(seconds=200)
    _load(platform, deployment_id, 0, at=clock.now)
    assert scaler.run() == 0  # low again, but only just
    clock.now += timedelta(seconds=301)
    assert scaler.run() == 1 and _desired(platform, deployment_id) == 1
    assert _scale_events(platform, deployment_id) == [
        "scaled down to 1 replica: 0 requests in flight on 2 replicas for 301 s"]
    clock.now += timedelta(seconds=1000)
    assert scaler.run() == 0 and _desired(platform, deployment_id) == 1  # min


def test_two_controllers_step_once_for_one_observation(
        platform: Platform, scaler: LoadScaler, clock: Clock) -> None:
    deployment_id = _deployment(platform)
    other = LoadScaler(platform.db, platform.queue, scaler.settings, clock=clock)
    _load(platform, deployment_id, 5, at=clock.now)
    with platform.db.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        step = scaler.decide(session, row)
        other_step = other.decide(session, row)
    assert step is not None and other_step is not None
    assert scaler.scale(deployment_id) is True
    # The other controller read the old count: its conditional write changes nothing.
    with platform.db.session() as session:
        stale = session.get(Deployment, deployment_id)
        assert stale is not None
        stale.replicas_desired = 1  # what it saw
        session.expunge(stale)
    with platform.db.session() as session:
        assert other._apply(session, stale, other_step) is False
    assert _desired(platform, deployment_id) == 2
    assert len(_scale_events(platform, deployment_id)) == 1


@pytest.mark.parametrize("status", ["stopped", "sleeping", "healing"])
def test_only_running_deployments_scale(platform: Platform, scaler: LoadScaler, clock: Clock,
                                        status: str) -> None:
    deployment_id = _deployment(platform, status=status)
    _load(platform, deployment_id, 10, at=clock.now)
    assert scaler.run() == 0 and _desired(platform, deployment_id) == 1


def test_fixed_replicas_are_left_alone(platform: Platform, scaler: LoadScaler,
                                       clock: Clock) -> None:
    deployment_id = _deployment(platform, replicas=(2, 2, 2))
    _load(platform, deployment_id, 10, at=clock.now)
    assert scaler.run() == 0 and _desired(platform, deployment_id) == 2


def test_the_autopilot_runs_the_scaler(platform: Platform) -> None:
    assert "scaling" in [task.name for task in autopilot_tasks(platform)]
