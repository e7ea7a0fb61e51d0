"""Test data for the placement advisor: a running cloud deployment billed at today's best
offer, and a price drop written where a price refresh writes (``catalog/refresh.py``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from flowllama.catalog.prices import CloudStatus, PriceCatalog, write_price_file
from flowllama.catalog.refresh import clear_cache, current_prices, price_cache_path
from flowllama.db.tables import Deployment, Instance, User
from flowllama.domain.deployments import DeploymentCreate
from flowllama.platform import Platform
from flowllama.services import deployments
from flowllama.services.deployment_estimates import DeploymentEstimator

AWS_8B = DeploymentCreate(name="chat", model="llama3.1:8b", context_size=8192, cloud="aws")


@dataclass(frozen=True)
class Running:
    """A running deployment and where its one server runs (the estimate's best offer)."""

    deployment_id: str
    user_id: str
    offer: dict[str, Any]


def running_deployment(platform: Platform, body: DeploymentCreate = AWS_8B,
                       email: str = "ada@example.com", *, auto_move: bool = False) -> Running:
    """Create ``body`` for a new user through the deployments service, mark it running and
    give it a healthy server at the best offer's price, as the agent would."""
    estimator = DeploymentEstimator(platform.catalog)
    with platform.db.session() as session:
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(email=email, password_hash="x")
            session.add(user)
            session.flush()
        row = deployments.create(session, user, body, estimator).deployment
        row.status, row.auto_move = "running", auto_move
        offer = dict(row.estimate["candidates"][0])  # type: ignore[index]
        session.add(Instance(
            deployment_id=row.id, provider="terraform", cloud=offer["cloud"],
            region=offer["region"], zone=offer["zone"], instance_type=offer["instance_type"],
            spot=offer["spot"], price_per_hour=offer["price_per_hour"], status="healthy",
            endpoint_url="http://10.0.0.5:11434", generation=row.generation))
        return Running(row.id, user.id, offer)


def drop_price(platform: Platform, running: Running, factor: float = 0.5,
               as_of: str = "2026-12-01") -> dict[str, Any]:
    """Make another candidate of ``running`` cost ``factor`` times what it runs at now, in a
    refreshed price file (as ``flowllama pricing refresh`` writes one); returns its offer."""
    with platform.db.session() as session:
        row = session.get(Deployment, running.deployment_id)
        assert row is not None and row.estimate is not None
        candidates = row.estimate["candidates"]
    cheaper = write_price_drop(platform.settings.data_dir, candidates, running.offer, factor,
                               as_of)
    clear_cache()
    return cheaper


def write_price_drop(data_dir: Path, candidates: list[dict[str, Any]], offer: dict[str, Any],
                     factor: float, as_of: str) -> dict[str, Any]:
    """Write refreshed prices under ``data_dir`` in which the first of ``candidates`` not in
    ``offer``'s region and type costs ``factor`` x ``offer``'s price; returns that offer."""
    here = (offer["region"], offer["instance_type"])
    other = next(candidate for candidate in candidates
                 if (candidate["region"], candidate["instance_type"]) != here
                 and candidate["spot"] == offer["spot"])
    new_price = round(offer["price_per_hour"] * factor, 4)
    catalog = current_prices(data_dir=data_dir)
    market = "spot" if other["spot"] else "on_demand"
    rows = tuple(
        dataclasses.replace(price, **{market: new_price})
        if (price.cloud, price.region, price.instance_type)
        == (other["cloud"], other["region"], other["instance_type"]) else price
        for price in catalog.rows)
    statuses = {cloud: CloudStatus("live", as_of) for cloud in catalog.clouds}
    write_price_file(PriceCatalog(rows, as_of, "live", statuses), price_cache_path(data_dir))
    return {**other, "price_per_hour": new_price}
