"""A capacity error on the first offer, through the real reconciler on SQLite and PostgreSQL:
the server lands on the next offer in the documented order (``docs/agent.md``, "Choosing where
to run"), and each full offer is an event naming it and the cloud's error. The estimate is the
real optimizer's (llama3.1:8b, ``cloud: auto``, spot tolerance high, price snapshot), whose
cheapest offers are spot on both clouds."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from tests.agent.test_replacement import KINDS, Slots

from flowllama.agent.reconciler import DrainPolicy, Outcome, Reconciler
from flowllama.catalog.optimizer import EstimateRequest, estimate
from flowllama.catalog.prices import load_snapshot
from flowllama.db.session import Database
from flowllama.db.tables import Deployment, DeploymentEvent, Instance, User
from flowllama.domain.lifecycle import Status
from flowllama.errors import NoCapacity, NoFoundation
from flowllama.providers.base import DeploymentSpec, Handle, Placement
from flowllama.providers.registry import ProvisionerRegistry
from flowllama.services.catalog import result_json

Where = tuple[str, str, str, bool]
FIRST: Where = ("aws", "us-west-2", "g4dn.xlarge", True)


class FullPlaces(Slots):
    """The in-memory provisioner, whose ``full`` places refuse like EC2 out of capacity."""

    def __init__(self, full: set[Where]) -> None:
        super().__init__()
        self.full = full
        self.tried: list[Where] = []

    def create(self, spec: DeploymentSpec, placement: Placement) -> Handle:
        where = (placement.cloud, placement.region, placement.instance_type, placement.spot)
        self.tried.append(where)
        if where in self.full:
            raise NoCapacity(f"InsufficientInstanceCapacity: no {placement.instance_type} left")
        return super().create(spec, placement)


def _reconciler(database: Database, provisioner: FullPlaces) -> Reconciler:
    registry = ProvisionerRegistry()
    registry.register("slots", lambda: provisioner)
    return Reconciler(database, registry, lease_s=60, kinds=KINDS,
                      drain=DrainPolicy(timeout_s=30, route_ttl_s=0, report_interval_s=0))


def _deployment(database: Database) -> str:
    result = estimate(EstimateRequest(model="llama3.1:8b", context_size=8192,
                                      spot_tolerance="high"), prices=load_snapshot())
    with database.session() as session:
        user = User(email="ops@example.com", password_hash="x")
        session.add(user)
        session.flush()
        row = Deployment(user_id=user.id, name="chat", model="llama3.1:8b", context_size=8192,
                         cloud="auto", spot_tolerance="high", estimate=result_json(result))
        session.add(row)
        session.flush()
        return row.id


def _server(database: Database, deployment_id: str) -> tuple[Status, Where]:
    with database.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        [server] = session.scalars(select(Instance).where(
            Instance.deployment_id == deployment_id, Instance.terminated_at.is_(None))).all()
        where = (server.cloud or "", server.region or "", server.instance_type or "",
                 bool(server.spot))
        return Status(row.status), where


def _full_events(database: Database, deployment_id: str) -> list[tuple[str, Any]]:
    with database.session() as session:
        events = session.scalars(select(DeploymentEvent).where(
            DeploymentEvent.deployment_id == deployment_id).order_by(DeploymentEvent.id)).all()
        return [(e.reason, (e.data or {}).get("error")) for e in events
                if e.reason.startswith("no capacity")]


@pytest.mark.parametrize(("full", "lands_on"), [
    ({FIRST}, ("aws", "us-west-2", "g4dn.xlarge", False)),  # spot full: on-demand, same place
    ({FIRST, ("aws", "us-west-2", "g4dn.xlarge", False)},  # the region full: the same type
     ("aws", "eu-south-1", "g4dn.xlarge", True)),         # spot in another AWS region
])
def test_a_capacity_error_on_the_first_offer_moves_to_the_next_in_order(
        database: Database, full: set[Where], lands_on: Where) -> None:
    provisioner = FullPlaces(full)
    deployment_id = _deployment(database)
    assert _reconciler(database, provisioner).reconcile(deployment_id) is Outcome.DONE

    assert provisioner.tried[0] == FIRST
    assert provisioner.tried[len(full):] == [lands_on]
    assert _server(database, deployment_id) == (Status.RUNNING, lands_on)
    events = _full_events(database, deployment_id)
    assert len(events) == len(full)
    reason, error = events[0]
    assert reason == ("no capacity on g4dn.xlarge spot in usw2-lax1-az1 (aws, $0.0669/h); "
                      "trying the next offer")
    assert error == "InsufficientInstanceCapacity: no g4dn.xlarge left"


class BareRegions(FullPlaces):
    """...whose ``bare`` (cloud, region)s have no foundation, refused as the Terraform
    provisioner refuses them (``Foundations.outputs``)."""

    def __init__(self, bare: set[tuple[str, str]]) -> None:
        super().__init__(set())
        self.bare = bare

    def create(self, spec: DeploymentSpec, placement: Placement) -> Handle:
        if (placement.cloud, placement.region) in self.bare:
            self.tried.append((placement.cloud, placement.region, placement.instance_type,
                               placement.spot))
            raise NoFoundation(f"no {placement.cloud} foundation in {placement.region} "
                               f"(environment prod): run 'flowllama cloud init "
                               f"{placement.cloud} --region {placement.region} --environment "
                               "prod' first")
        return super().create(spec, placement)


def test_a_region_without_a_foundation_is_skipped_and_the_fallback_goes_on(
        database: Database) -> None:
    provisioner = BareRegions({("aws", "us-west-2")})
    deployment_id = _deployment(database)
    assert _reconciler(database, provisioner).reconcile(deployment_id) is Outcome.DONE

    # The first offer's region is bare: asked once, its on-demand twin there is not asked at
    # all, and the same instance type in the next region is taken.
    lands_on = ("aws", "eu-south-1", "g4dn.xlarge", True)
    assert provisioner.tried == [FIRST, lands_on]
    assert _server(database, deployment_id) == (Status.RUNNING, lands_on)
    with database.session() as session:
        reasons = [e.reason for e in session.scalars(select(DeploymentEvent).where(
            DeploymentEvent.deployment_id == deployment_id).order_by(DeploymentEvent.id))]
    skipped = [reason for reason in reasons if "foundation" in reason]
    assert skipped == ["no aws foundation in us-west-2 (environment prod): run 'flowllama cloud "
                       "init aws --region us-west-2 --environment prod' first; skipping the aws "
                       "offers in us-west-2, trying the next offer"]
    assert _full_events(database, deployment_id) == []
