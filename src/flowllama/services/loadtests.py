"""Load tests of a deployment asked by its owner: start one now, list and read runs, and the
deployment's schedule. Owner-scoped everywhere: another tenant's deployment or run is a 404.

A request only records a ``queued`` row; the agent's load-test executor
(``loadtest/executor.py``) runs it. One ``queued`` or ``running`` run per deployment (a partial
unique index makes that hold across API processes too): a second request is a 409
``loadtest_running``. Duration and users are bounded by the settings (422 naming the field).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flowllama.db.tables import Deployment, LoadtestRun, LoadtestSchedule, User
from flowllama.db.types import utcnow
from flowllama.domain.lifecycle import Status
from flowllama.domain.loadtests import ACTIVE, LoadtestRequest, RunStatus, ScheduleIn
from flowllama.errors import Conflict, InvalidInput, NotFound
from flowllama.loadtest.platform_settings import LoadtestSettings
from flowllama.services import deployments

# The deployment statuses a load test may start from: it must be serving.
SERVING = (Status.RUNNING, Status.UNHEALTHY)


def bounded(limits: LoadtestSettings, duration_s: int | None, users: int | None
            ) -> tuple[int, int]:
    """The run's duration and users: the defaults when omitted, refused above the maxima."""
    duration = limits.default_duration_s if duration_s is None else duration_s
    count = limits.default_users if users is None else users
    if duration > limits.max_duration_s:
        raise InvalidInput(f"duration_s may be at most {limits.max_duration_s}",
                           field="duration_s", code="loadtest_limit")
    if count > limits.max_users:
        raise InvalidInput(f"users may be at most {limits.max_users}", field="users",
                           code="loadtest_limit")
    return duration, count


def start(session: Session, user: User, deployment_id: str, body: LoadtestRequest,
          limits: LoadtestSettings) -> LoadtestRun:
    """Queue a run of the user's serving deployment (409 if one is queued or running)."""
    duration, count = bounded(limits, body.duration_s, body.users)
    deployment = deployments.get(session, user, deployment_id)
    if deployment.status not in SERVING:
        raise Conflict(f"Deployment is {deployment.status}; a load test needs it running",
                       code="deployment_not_running")
    return _queue(session, deployment, "manual", duration, count)


def _queue(session: Session, deployment: Deployment, trigger: str, duration: int,
           users: int) -> LoadtestRun:
    if _active(session, deployment.id) is not None:
        raise _running()
    row = LoadtestRun(user_id=deployment.user_id, deployment_id=deployment.id,
                      trigger=trigger, status=RunStatus.QUEUED, duration_s=duration,
                      users=users)
    try:
        with session.begin_nested():  # the index decides a race between two processes
            session.add(row)
    except IntegrityError as exc:
        raise _running() from exc
    return row


def _running() -> Conflict:
    return Conflict("A load test of this deployment is already queued or running",
                    code="loadtest_running")


def _active(session: Session, deployment_id: str) -> LoadtestRun | None:
    return session.scalar(select(LoadtestRun).where(
        LoadtestRun.deployment_id == deployment_id, LoadtestRun.status.in_(ACTIVE)))


def list_page(session: Session, user: User, deployment_id: str, limit: int, offset: int
              ) -> tuple[list[LoadtestRun], int]:
    """The deployment's runs, newest first, and how many there are."""
    deployments.get(session, user, deployment_id)
    where = (LoadtestRun.deployment_id == deployment_id, LoadtestRun.user_id == user.id)
    total = session.scalar(select(func.count()).select_from(LoadtestRun).where(*where)) or 0
    rows = session.scalars(select(LoadtestRun).where(*where)
                           .order_by(LoadtestRun.created_at.desc(), LoadtestRun.id)
                           .limit(limit).offset(offset)).all()
    return list(rows), total


def succeeded(session: Session, user: User, deployment_id: str, limit: int
              ) -> list[LoadtestRun]:
    """The deployment's stored runs, newest first (what its dashboard shows)."""
    deployments.get(session, user, deployment_id)
    return list(session.scalars(select(LoadtestRun).where(
        LoadtestRun.deployment_id == deployment_id, LoadtestRun.user_id == user.id,
        LoadtestRun.status == RunStatus.SUCCEEDED, LoadtestRun.run_id.is_not(None),
    ).order_by(LoadtestRun.created_at.desc(), LoadtestRun.id).limit(limit)).all())


def get_run(session: Session, user: User, deployment_id: str, run_pk: str) -> LoadtestRun:
    """The user's run of that deployment; anyone else's, or an unknown one, is a 404."""
    deployments.get(session, user, deployment_id)
    row = session.scalar(select(LoadtestRun).where(
        LoadtestRun.id == run_pk, LoadtestRun.deployment_id == deployment_id,
        LoadtestRun.user_id == user.id))
    if row is None:
        raise NotFound("Load test not found", field="run")
    return row


def get_schedule(session: Session, user: User, deployment_id: str,
                 limits: LoadtestSettings) -> LoadtestSchedule:
    """The deployment's schedule (an unsaved, disabled one when it has none)."""
    deployments.get(session, user, deployment_id)
    row = session.get(LoadtestSchedule, deployment_id)
    if row is None:
        return LoadtestSchedule(deployment_id=deployment_id, user_id=user.id, enabled=False,
                                interval_s=max(3600, limits.schedule_min_interval_s),
                                duration_s=limits.default_duration_s,
                                users=limits.default_users, next_run_at=None)
    return row


def put_schedule(session: Session, user: User, deployment_id: str, body: ScheduleIn,
                 limits: LoadtestSettings) -> LoadtestSchedule:
    """Turn the schedule on or off; the first run is one interval from now."""
    duration, count = bounded(limits, body.duration_s, body.users)
    if not limits.schedule_min_interval_s <= body.interval_s <= limits.schedule_max_interval_s:
        raise InvalidInput(
            f"interval_s must be between {limits.schedule_min_interval_s} and "
            f"{limits.schedule_max_interval_s}", field="interval_s", code="loadtest_limit")
    deployments.get(session, user, deployment_id)
    row = session.get(LoadtestSchedule, deployment_id) or LoadtestSchedule(
        deployment_id=deployment_id, user_id=user.id)
    row.enabled, row.interval_s, row.duration_s, row.users = (
        body.enabled, body.interval_s, duration, count)
    row.next_run_at = utcnow() + timedelta(seconds=body.interval_s) if body.enabled else None
    session.add(row)
    session.flush()
    return row


def queue_due(session: Session, now: datetime | None = None) -> int:
    """Queue a run for every enabled schedule that is due (skipping a deployment that is not
    serving or already has one); returns how many were queued."""
    now = now or utcnow()
    due = session.scalars(select(LoadtestSchedule).where(
        LoadtestSchedule.enabled.is_(True), LoadtestSchedule.next_run_at <= now)
        .with_for_update(skip_locked=True)).all()
    queued = 0
    for schedule in due:
        schedule.next_run_at = now + timedelta(seconds=schedule.interval_s)
        deployment = session.get(Deployment, schedule.deployment_id)
        if (deployment is None or deployment.deleted_at is not None
                or deployment.status not in SERVING):
            continue
        try:
            _queue(session, deployment, "schedule", schedule.duration_s, schedule.users)
        except Conflict:
            continue
        queued += 1
    return queued
