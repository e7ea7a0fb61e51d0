"""Where a deployment may run, in the order to try: the optimizer's ranked offers, or this
machine for ``cloud: local``; and which provisioner kind serves each place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowllama.db.tables import Deployment
from flowllama.providers.base import DeploymentSpec, Placement, Unsupported
from flowllama.providers.local import LOCAL_PLACEMENT

# ``external``: a server an administrator registered; its provisioner adopts, never creates.
PROVISIONER_BY_CLOUD = {"local": "local", "aws": "terraform", "gcp": "terraform",
                        "external": "external"}


def spec_of(deployment: Deployment) -> DeploymentSpec:
    """The provisioner-facing view of a deployment row."""
    return DeploymentSpec(
        deployment_id=deployment.id, user_id=deployment.user_id, name=deployment.name,
        model=deployment.model, context_size=deployment.context_size,
        parallel=deployment.parallel, runtime=deployment.runtime, cloud=deployment.cloud,
        region=deployment.region, instance_type=deployment.instance_type,
        spot=deployment.spot_tolerance != "none", gpu=deployment.gpu,
    )


def _placement(offer: dict[str, Any]) -> Placement:
    return Placement(
        cloud=str(offer["cloud"]), region=str(offer["region"]), zone=offer.get("zone"),
        instance_type=str(offer["instance_type"]), spot=bool(offer.get("spot", False)),
        price_per_hour=offer.get("price_per_hour"), gpu=offer.get("gpu"),
        gpu_count=int(offer.get("gpu_count") or 0),
    )


def placements_for(deployment: Deployment) -> list[Placement]:
    """Ranked places to try: the estimate's recommendation first, then its fallbacks."""
    if deployment.cloud == "local":
        return [LOCAL_PLACEMENT]
    estimate = deployment.estimate or {}
    offers: list[dict[str, Any]] = list(estimate.get("candidates") or [])
    seen: set[tuple[str, str, str | None, str, bool]] = set()
    ranked = []
    for offer in offers:
        placement = _placement(offer)
        key = (placement.cloud, placement.region, placement.zone, placement.instance_type,
               placement.spot)
        if key not in seen:
            seen.add(key)
            ranked.append(placement)
    return ranked


def provisioner_kind(placement: Placement,
                     kinds: Mapping[str, str] = PROVISIONER_BY_CLOUD) -> str:
    """The provisioner kind serving ``placement``'s cloud."""
    try:
        return kinds[placement.cloud]
    except KeyError:
        raise Unsupported(f"no provisioner serves cloud {placement.cloud!r}") from None


def describe(placement: Placement) -> str:
    """``g6.xlarge spot in us-east-2 (aws, $0.3100/h)`` for events and status messages."""
    market = "spot" if placement.spot else "on-demand"
    where = placement.zone or placement.region
    price = f", ${placement.price_per_hour:.4f}/h" if placement.price_per_hour is not None else ""
    return f"{placement.instance_type} {market} in {where} ({placement.cloud}{price})"
