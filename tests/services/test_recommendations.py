"""The placement advisor's records on SQLite and PostgreSQL: a price drop in the catalog gives
one recommendation with the right saving, repeated looks change nothing, a cheaper offer
supersedes it, one that no longer saves is withdrawn; accept pins and bumps the generation;
dismiss; another tenant's is a 404 and a decided one a 409."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from flowllama.db.autopilot_tables import Recommendation
from flowllama.db.tables import (
    Deployment,
    DeploymentEvent,
    Instance,
    User,
    Webhook,
    WebhookDelivery,
)
from flowllama.errors import Conflict, NotFound, QuotaExceeded
from flowllama.platform import Platform
from flowllama.services import recommendations
from flowllama.services.deployment_estimates import DeploymentEstimator
from flowllama.services.recommendations import Thresholds
from flowllama.settings import QuotaSettings, TierQuota
from price_drops import Running, drop_price, running_deployment

THRESHOLDS = Thresholds(min_usd_month=10.0, min_percent=10.0)


def _advise(platform: Platform, running: Running,
            thresholds: Thresholds = THRESHOLDS) -> Recommendation | None:
    estimator = DeploymentEstimator(platform.catalog)
    with platform.db.session() as session:
        row = recommendations.lock_advisable(session, running.deployment_id)
        assert row is not None
        found = recommendations.advise(session, row, estimator, thresholds)
        if found is not None:
            session.expunge(found)
        return found


def _rows(platform: Platform, running: Running) -> list[tuple[str, float]]:
    with platform.db.session() as session:
        return [(r.status, r.new_price_per_hour) for r in session.scalars(
            select(Recommendation).where(Recommendation.deployment_id == running.deployment_id)
            .order_by(Recommendation.created_at, Recommendation.id))]


def _subscribe(platform: Platform, running: Running) -> None:
    with platform.db.session() as session:
        session.add(Webhook(user_id=running.user_id, url="http://127.0.0.1:9/hook",
                            events=["deployment.recommendation"], secret="s"))


def test_at_todays_best_offer_there_is_nothing_to_recommend(platform: Platform) -> None:
    running = running_deployment(platform)
    assert _advise(platform, running) is None
    assert _rows(platform, running) == []


def test_a_price_drop_gives_one_recommendation_with_the_right_saving(
        platform: Platform) -> None:
    running = running_deployment(platform)
    _subscribe(platform, running)
    cheaper = drop_price(platform, running)
    found = _advise(platform, running)
    assert found is not None
    current, new = running.offer["price_per_hour"], cheaper["price_per_hour"]
    assert (found.current_price_per_hour, found.new_price_per_hour) == (current, new)
    assert found.monthly_saving_usd == pytest.approx((current - new) * 730, abs=0.01)
    assert found.saving_percent == pytest.approx(50, abs=0.1)
    assert found.placement == {key: cheaper[key] for key in (
        "cloud", "region", "zone", "instance_type", "spot", "price_per_hour", "gpu",
        "gpu_count")}
    for _ in range(3):  # the same offer again changes nothing
        assert _advise(platform, running) is None
    assert _rows(platform, running) == [("open", new)]
    with platform.db.session() as session:
        reasons = session.scalars(select(DeploymentEvent.reason).where(
            DeploymentEvent.deployment_id == running.deployment_id)).all()
        deliveries = session.scalars(select(WebhookDelivery)).all()
    assert sum("cheaper placement found" in reason for reason in reasons) == 1
    assert [d.event for d in deliveries] == ["deployment.recommendation"]
    payload: dict[str, Any] = deliveries[0].payload
    assert payload["deployment"]["id"] == running.deployment_id
    assert payload["recommendation"]["monthly_saving_usd"] == found.monthly_saving_usd


def test_the_saving_counts_every_replica(platform: Platform) -> None:
    running = running_deployment(platform)
    with platform.db.session() as session:
        row = session.get(Deployment, running.deployment_id)
        assert row is not None
        row.replicas_min = row.replicas_max = row.replicas_desired = 2
        first = session.scalars(select(Instance)).one()
        session.add(Instance(deployment_id=row.id, provider="terraform", cloud=first.cloud,
                             region=first.region, instance_type=first.instance_type,
                             spot=first.spot, price_per_hour=first.price_per_hour,
                             status="healthy", slot="s1"))
    cheaper = drop_price(platform, running)
    found = _advise(platform, running)
    assert found is not None
    saving = (running.offer["price_per_hour"] - cheaper["price_per_hour"]) * 730 * 2
    assert found.monthly_saving_usd == pytest.approx(saving, abs=0.01)


def test_a_cheaper_offer_supersedes_and_one_that_no_longer_saves_is_withdrawn(
        platform: Platform) -> None:
    running = running_deployment(platform)
    first = drop_price(platform, running, 0.6, as_of="2026-12-01")
    assert _advise(platform, running) is not None
    better = drop_price(platform, running, 0.4, as_of="2026-12-02")
    assert _advise(platform, running) is not None
    assert _rows(platform, running) == [("superseded", first["price_per_hour"]),
                                        ("open", better["price_per_hour"])]
    drop_price(platform, running, 0.95, as_of="2026-12-03")  # 5 %: under the threshold
    assert _advise(platform, running) is None
    assert [status for status, _ in _rows(platform, running)] == ["superseded"] * 2


def test_savings_under_either_threshold_are_not_recommended(platform: Platform) -> None:
    running = running_deployment(platform)
    drop_price(platform, running, 0.5)
    assert _advise(platform, running, Thresholds(min_usd_month=1e6, min_percent=1)) is None
    assert _advise(platform, running, Thresholds(min_usd_month=1, min_percent=60)) is None
    assert _rows(platform, running) == []


def test_an_excluded_offer_is_not_recommended_until_its_exclusion_ends(platform: Platform) -> None:
    running = running_deployment(platform)
    cheaper = drop_price(platform, running, 0.5)
    with platform.db.session() as session:
        row = session.get(Deployment, running.deployment_id)
        assert row is not None
        row.excluded_offers = [{**{k: cheaper[k] for k in ("cloud", "region", "zone",
                                                           "instance_type", "spot")},
                                "until": "2999-01-01T00:00:00+00:00", "reason": "reclaimed"}]
    found = _advise(platform, running)
    assert found is None or found.new_price_per_hour > cheaper["price_per_hour"]
    with platform.db.session() as session:  # the exclusion ran out
        row = session.get(Deployment, running.deployment_id)
        assert row is not None and row.excluded_offers
        row.excluded_offers = [{**row.excluded_offers[0], "until": "2001-01-01T00:00:00"}]
    again = _advise(platform, running)
    assert again is not None and again.new_price_per_hour == cheaper["price_per_hour"]


def test_a_move_under_way_is_not_advised(platform: Platform) -> None:
    running = running_deployment(platform)
    drop_price(platform, running)
    with platform.db.session() as session:
        session.scalars(select(Instance)).one().generation = -1  # an older generation
    assert _advise(platform, running) is None


def test_accept_pins_the_offer_and_bumps_the_generation(platform: Platform) -> None:
    running = running_deployment(platform)
    drop_price(platform, running)
    found = _advise(platform, running)
    assert found is not None
    with platform.db.session() as session:
        user = session.get(User, running.user_id)
        assert user is not None
        deployment, row = recommendations.accept_for(session, user, running.deployment_id,
                                                     found.id)
        assert (row.status, row.decided_at is not None) == ("accepted", True)
        assert deployment.generation == 1 and deployment.placement_pin == found.placement
    with platform.db.session() as session:
        reasons = session.scalars(select(DeploymentEvent.reason)).all()
        assert any(reason.startswith("moving to ") and
                   f"saves ${found.monthly_saving_usd:,.2f}/month" in reason
                   for reason in reasons)
        user = session.get(User, running.user_id)
        assert user is not None
        with pytest.raises(Conflict):
            recommendations.accept_for(session, user, running.deployment_id, found.id)
        with pytest.raises(Conflict):
            recommendations.dismiss_for(session, user, running.deployment_id, found.id)


def test_dismiss_and_another_tenants_recommendation(platform: Platform) -> None:
    running = running_deployment(platform)
    drop_price(platform, running)
    found = _advise(platform, running)
    assert found is not None
    with platform.db.session() as session:
        mallory = User(email="mallory@example.com", password_hash="x")
        session.add(mallory)
        session.flush()
        for call in (recommendations.accept_for, recommendations.dismiss_for):
            with pytest.raises(NotFound):
                call(session, mallory, running.deployment_id, found.id)
        owner = session.get(User, running.user_id)
        assert owner is not None
        with pytest.raises(NotFound):
            recommendations.dismiss_for(session, owner, running.deployment_id, "nope")
        assert recommendations.dismiss_for(
            session, owner, running.deployment_id, found.id).status == "dismissed"
    assert _rows(platform, running) == [("dismissed", found.new_price_per_hour)]
    assert _advise(platform, running) is None  # a dismissed offer is not offered again
    drop_price(platform, running, 0.3, as_of="2026-12-02")
    assert _advise(platform, running) is not None  # but a cheaper one is


def test_accepting_a_move_that_adds_gpu_servers_must_fit_the_quota(platform: Platform) -> None:
    running = running_deployment(platform)
    drop_price(platform, running)
    found = _advise(platform, running)
    assert found is not None and found.placement["gpu_count"] >= 1
    with platform.db.session() as session:  # as if the deployment had only CPU offers
        row = session.get(Deployment, running.deployment_id)
        assert row is not None and row.estimate is not None
        row.estimate = {**row.estimate, "recommended": None, "candidates": []}
    capped = QuotaSettings(tiers={"free": TierQuota(gpu_instances=0)})
    with platform.db.session() as session:
        user = session.get(User, running.user_id)
        assert user is not None
        with pytest.raises(QuotaExceeded) as refused:
            recommendations.accept_for(session, user, running.deployment_id, found.id, capped)
        assert refused.value.field == "gpu_instances"
    assert _rows(platform, running)[0][0] == "open"
    with platform.db.session() as session:  # within the cap it moves
        user = session.get(User, running.user_id)
        assert user is not None
        roomy = QuotaSettings(tiers={"free": TierQuota(gpu_instances=1)})
        deployment, row = recommendations.accept_for(session, user, running.deployment_id,
                                                     found.id, roomy)
        assert row.status == "accepted" and deployment.placement_pin == found.placement
