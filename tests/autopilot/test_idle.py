"""Idle sleep: a running deployment with an idle timeout and no request for that long (by the
gateways' reports, else since it became running) is sent to sleep once, with its event and a
nudge; recent traffic, a request in flight, no timeout, or a timeout below the configured
minimum keep it awake."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from flowllama.autopilot.composition import autopilot_tasks
from flowllama.autopilot.idle import IdleSleep, describe_duration
from flowllama.db.tables import Deployment, DeploymentEvent, Job, User
from flowllama.db.types import utcnow
from flowllama.domain.lifecycle import Desired, Status
from flowllama.gateway.load_report import LoadRow, write_report
from flowllama.platform import Platform

NOW = utcnow()


def _running(platform: Platform, name: str, idle_timeout_s: int | None,
             running_for: timedelta) -> str:
    with platform.db.session() as session:
        user = session.scalars(select(User)).first()
        if user is None:
            user = User(email="ada@example.com", password_hash="x")
            session.add(user)
            session.flush()
        deployment = Deployment(user_id=user.id, name=name, model="local/tiny",
                                context_size=512, cloud="local", status=Status.RUNNING,
                                desired_state=Desired.RUNNING, idle_timeout_s=idle_timeout_s)
        session.add(deployment)
        session.flush()
        session.add(DeploymentEvent(deployment_id=deployment.id, from_status=Status.STARTING,
                                    to_status=Status.RUNNING, reason="healthy",
                                    at=NOW - running_for))
        return deployment.id


def _state(platform: Platform, deployment_id: str) -> tuple[str, object]:
    with platform.db.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        return row.desired_state, row.asleep_since


def test_idle_deployments_go_to_sleep_once(platform: Platform) -> None:
    idle = _running(platform, "idle", 60, timedelta(minutes=5))
    busy = _running(platform, "busy", 60, timedelta(minutes=5))
    streaming = _running(platform, "streaming", 60, timedelta(minutes=5))
    never = _running(platform, "never", None, timedelta(days=3))
    young = _running(platform, "young", 60, timedelta(seconds=30))
    write_report(platform.db, "gw", [
        LoadRow("i-busy", busy, 0, 1, None, NOW - timedelta(seconds=20)),
        LoadRow("i-streaming", streaming, 1, 0, None, NOW - timedelta(minutes=4)),
        LoadRow("i-idle", idle, 0, 0, None, NOW - timedelta(minutes=2)),
    ], now=NOW)
    task = IdleSleep(platform.db, platform.queue)
    assert task.run(NOW) == 1
    assert task.run(NOW) == 0
    assert _state(platform, idle)[0] == Desired.SLEEPING
    for awake in (busy, streaming, never, young):
        assert _state(platform, awake)[0] == Desired.RUNNING
    with platform.db.session() as session:
        reasons = session.scalars(select(DeploymentEvent.reason).where(
            DeploymentEvent.deployment_id == idle, DeploymentEvent.to_status == "running",
            DeploymentEvent.from_status == "running")).all()
        nudged = session.scalars(select(Job.deployment_id)).all()
    assert reasons == ["idle for 60 s: going to sleep"]
    assert nudged == [idle]


def test_the_minimum_idle_timeout_wins_and_the_task_is_composed(platform: Platform) -> None:
    short = _running(platform, "short", 5, timedelta(seconds=30))
    assert IdleSleep(platform.db, platform.queue, min_idle_timeout_s=60).run(NOW) == 0
    assert IdleSleep(platform.db, platform.queue, min_idle_timeout_s=1).run(NOW) == 1
    assert _state(platform, short)[0] == Desired.SLEEPING
    assert "idle_sleep" in [task.name for task in autopilot_tasks(platform)]


def test_describe_duration() -> None:
    assert [describe_duration(s) for s in (45, 1800, 7200, 5400 * 4)] == [
        "45 s", "30 min", "2 h", "6 h"]
