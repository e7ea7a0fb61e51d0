"""The advisor task on SQLite and PostgreSQL: it looks after a price refresh and otherwise at
most every ``advisor_interval_s``; with ``auto_move`` it starts the move itself (pin,
generation, nudge); local deployments and stopped ones are never advised."""

from __future__ import annotations

from sqlalchemy import select

from flowllama.autopilot.advisor import PlacementAdvisor
from flowllama.autopilot.composition import autopilot_tasks
from flowllama.db.autopilot_tables import Recommendation
from flowllama.db.tables import Deployment, Instance
from flowllama.domain.deployments import DeploymentCreate
from flowllama.platform import Platform
from flowllama.services.deployment_estimates import DeploymentEstimator
from flowllama.services.recommendations import Thresholds
from flowllama.settings import QuotaSettings, TierQuota
from price_drops import drop_price, running_deployment


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _advisor(platform: Platform, clock: Clock) -> PlacementAdvisor:
    return PlacementAdvisor(platform.db, platform.queue, DeploymentEstimator(platform.catalog),
                            prices=platform.catalog.prices,
                            thresholds=Thresholds(10.0, 10.0), interval_s=600, clock=clock)


def _statuses(platform: Platform) -> list[str]:
    with platform.db.session() as session:
        return list(session.scalars(select(Recommendation.status)
                                    .order_by(Recommendation.created_at)))


def test_it_looks_after_each_price_refresh_and_at_most_every_interval(
        platform: Platform) -> None:
    clock = Clock()
    advisor = _advisor(platform, clock)
    running = running_deployment(platform)
    assert advisor.run() == 0  # first round: today's best offer is where it runs
    drop_price(platform, running, as_of="2026-12-01")
    assert advisor.run() == 1  # the refresh is noticed at once, not after the interval
    assert advisor.run() == 0 and _statuses(platform) == ["open"]
    # A deployment that comes later waits for the interval (or the next refresh).
    later = running_deployment(platform, DeploymentCreate(
        name="other", model="llama3.1:8b", context_size=8192, cloud="aws"))
    with platform.db.session() as session:  # it runs where the first one does, dearer
        server = session.scalars(select(Instance).where(
            Instance.deployment_id == later.deployment_id)).one()
        server.region, server.instance_type = (running.offer["region"],
                                               running.offer["instance_type"])
        server.price_per_hour = running.offer["price_per_hour"]
    assert advisor.run() == 0
    clock.now += 601
    assert advisor.run() == 1
    assert _statuses(platform) == ["open", "open"]
    assert platform.queue.depth().ready == 0  # nothing moves without the owner


def test_auto_move_accepts_at_once_and_nudges_the_agent(platform: Platform) -> None:
    running = running_deployment(platform, auto_move=True)
    drop_price(platform, running)
    assert _advisor(platform, Clock()).run() == 1
    with platform.db.session() as session:
        row = session.get(Deployment, running.deployment_id)
        rec = session.scalars(select(Recommendation)).one()
        assert row is not None
        assert (rec.status, row.generation, row.placement_pin) == ("accepted", 1, rec.placement)
    assert platform.queue.depth().ready == 1
    # While the move is under way (its server is of the old generation) nothing more.
    assert _advisor(platform, Clock()).run() == 0


def test_local_and_stopped_deployments_are_not_advised(platform: Platform) -> None:
    running = running_deployment(platform)
    local = running_deployment(platform, DeploymentCreate(
        name="here", model="llama3.1:8b", context_size=512, cloud="local"))
    with platform.db.session() as session:
        session.scalars(select(Instance).where(
            Instance.deployment_id == local.deployment_id)).one().price_per_hour = 9.0
    drop_price(platform, running)
    advisor = _advisor(platform, Clock())
    assert advisor.run() == 1
    with platform.db.session() as session:
        row = session.get(Deployment, running.deployment_id)
        assert row is not None
        row.desired_state, row.status = "stopped", "stopped"
    assert advisor.advise_all() == 0
    assert _statuses(platform) == ["superseded"]  # withdrawn: nothing runs to move


def test_the_monitor_role_runs_the_advisor(platform: Platform) -> None:
    assert "advisor" in [task.name for task in autopilot_tasks(platform)]


def _as_cpu_only(platform: Platform, deployment_id: str) -> None:
    """Make the stored estimate offer no GPU (as a small model's would), so a move onto the
    recommended GPU offer adds GPU servers."""
    with platform.db.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None and row.estimate is not None
        estimate = dict(row.estimate)
        estimate["recommended"] = {**estimate["recommended"], "gpu_count": 0}
        estimate["candidates"] = [{**offer, "gpu_count": 0} for offer in estimate["candidates"]]
        row.estimate = estimate


def test_an_auto_move_past_the_gpu_quota_stays_a_recommendation(platform: Platform) -> None:
    running = running_deployment(platform, auto_move=True)
    drop_price(platform, running)
    _as_cpu_only(platform, running.deployment_id)
    capped = QuotaSettings(tiers={"free": TierQuota(gpu_instances=0)})
    advisor = PlacementAdvisor(platform.db, platform.queue,
                               DeploymentEstimator(platform.catalog),
                               prices=platform.catalog.prices, thresholds=Thresholds(10.0, 10.0),
                               interval_s=600, quota=capped, clock=Clock())
    assert advisor.run() == 1
    with platform.db.session() as session:
        row = session.get(Deployment, running.deployment_id)
        rec = session.scalars(select(Recommendation)).one()
        assert row is not None
        assert rec.placement["gpu_count"] >= 1
        assert (rec.status, row.generation, row.placement_pin) == ("open", 0, None)
    assert platform.queue.depth().ready == 0  # the owner decides (or upgrades)
