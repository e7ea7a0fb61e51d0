"""Where a deployment may run, in the order to try: the optimizer's ranked offers, or this
machine for ``cloud: local``; and which provisioner kind serves each place.

The order (``docs/autopilot.md``): an accepted move's ``placement_pin`` first; offers in
``excluded_offers`` are skipped until their ``until``; after a spot reclaim the replacement
tries spot on the same cloud in another zone or region, then spot on another cloud, then
on-demand (the estimate only holds spot offers the spot tolerance allows, and always its
on-demand ones). After a capacity or quota error on an offer, the next one tried is: its
on-demand twin (same instance type and region) if it was spot; the same instance type in other
zones or regions of that cloud, spot before on-demand; other instance types on that cloud; then
the other cloud (``after_capacity_error``). Every order only rearranges the estimate's offers,
which were priced within the deployment's constraints (cloud, region, instance type, GPU, spot
tolerance), so no fallback leaves them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from flowllama.catalog.disk import root_disk_gib
from flowllama.db.tables import Deployment, Instance
from flowllama.db.types import utcnow
from flowllama.providers.base import DeploymentSpec, Placement, Unsupported
from flowllama.providers.local import LOCAL_PLACEMENT

# ``external``: a server an administrator registered; its provisioner adopts, never creates.
PROVISIONER_BY_CLOUD = {"local": "local", "aws": "terraform", "gcp": "terraform",
                        "external": "external"}


# How long a reclaimed spot offer is not tried again.
RECLAIM_EXCLUSION = timedelta(hours=1)
OfferKey = tuple[str, str, str | None, str, bool]


def spec_of(deployment: Deployment, slot: str = "") -> DeploymentSpec:
    """The provisioner-facing view of a deployment row, for its server in ``slot``."""
    return DeploymentSpec(
        deployment_id=deployment.id, user_id=deployment.user_id, name=deployment.name,
        model=deployment.model, context_size=deployment.context_size,
        parallel=deployment.parallel, runtime=deployment.runtime, cloud=deployment.cloud,
        region=deployment.region, instance_type=deployment.instance_type,
        spot=deployment.spot_tolerance != "none", gpu=deployment.gpu, slot=slot,
        root_disk_gib=root_disk_of(deployment.estimate),
    )


def root_disk_of(estimate: Mapping[str, Any] | None) -> int | None:
    """The root disk (GiB) ``estimate`` priced: its ``root_disk_gib``, or for an estimate
    stored before it carried one, the same rule applied to its sized weights; ``None`` when it
    has neither (the provisioner's default applies)."""
    estimate = estimate or {}
    stored = estimate.get("root_disk_gib")
    if isinstance(stored, int) and not isinstance(stored, bool):
        return stored
    breakdown = (estimate.get("requirements") or {}).get("breakdown") or {}
    weights = breakdown.get("weights_bytes")
    if isinstance(weights, int) and not isinstance(weights, bool) and weights >= 0:
        return root_disk_gib(weights)
    return None


def _placement(offer: dict[str, Any]) -> Placement:
    return Placement(
        cloud=str(offer["cloud"]), region=str(offer["region"]), zone=offer.get("zone"),
        instance_type=str(offer["instance_type"]), spot=bool(offer.get("spot", False)),
        price_per_hour=offer.get("price_per_hour"), gpu=offer.get("gpu"),
        gpu_count=int(offer.get("gpu_count") or 0),
    )


def offer_key(placement: Placement) -> OfferKey:
    """What tells two offers apart (price aside)."""
    return (placement.cloud, placement.region, placement.zone, placement.instance_type,
            placement.spot)


def placements_for(deployment: Deployment, *, reclaimed: Placement | None = None,
                   now: datetime | None = None) -> list[Placement]:
    """Ranked places to try: the pin of an accepted move, then the estimate's recommendation
    and its fallbacks, without offers excluded now; after a spot reclaim of ``reclaimed``,
    reordered as the module says."""
    if deployment.cloud == "local":
        return [LOCAL_PLACEMENT]
    estimate = deployment.estimate or {}
    offers: list[dict[str, Any]] = list(estimate.get("candidates") or [])
    if deployment.placement_pin:
        offers.insert(0, dict(deployment.placement_pin))
    excluded = excluded_keys(deployment, now or utcnow())
    seen: set[OfferKey] = set()
    ranked = []
    for offer in offers:
        placement = _placement(offer)
        key = offer_key(placement)
        if key not in seen and key not in excluded:
            seen.add(key)
            ranked.append(placement)
    return ranked if reclaimed is None else after_reclaim(ranked, reclaimed)


def after_reclaim(ranked: list[Placement], reclaimed: Placement) -> list[Placement]:
    """``ranked`` reordered for the replacement of a reclaimed spot server: spot on the same
    cloud elsewhere (another zone or region), spot on another cloud, then on-demand; the
    reclaimed offer itself last of all (it is excluded for a while anyway)."""
    def rank(placement: Placement) -> int:
        if offer_key(placement) == offer_key(reclaimed):
            return 3
        if placement.spot:
            return 0 if placement.cloud == reclaimed.cloud else 1
        return 2

    return sorted(ranked, key=rank)  # stable: price order kept within each group


def after_capacity_error(ranked: list[Placement], failed: Placement) -> list[Placement]:
    """``ranked`` without ``failed``, reordered after ``failed`` had no capacity (or quota):
    on-demand of the same instance type and region if ``failed`` was spot; the same instance
    type elsewhere on its cloud (other zones or regions, spot first, then on-demand; the same
    region's other market last); other instance types on that cloud; then other clouds. Price
    order is kept within each group."""
    def rank(placement: Placement) -> tuple[int, int]:
        if placement.cloud != failed.cloud:
            return 3, 0
        if placement.instance_type != failed.instance_type:
            return 2, 0
        same_region = placement.region == failed.region
        if same_region and placement.spot != failed.spot:
            return (0, 0) if failed.spot else (1, 2)
        return 1, 0 if placement.spot else 1

    gone = offer_key(failed)
    return sorted((p for p in ranked if offer_key(p) != gone), key=rank)


def capacity_fallbacks(ranked: list[Placement]) -> Iterator[Placement]:
    """The places to try in turn: ``ranked[0]`` first, and after each one the rest ordered by
    ``after_capacity_error``. Contract: the caller asks for the next place only when the last
    one had no capacity (it stops at the first that works, or on any other error)."""
    remaining = list(ranked)
    while remaining:
        failed = remaining[0]
        yield failed
        remaining = after_capacity_error(remaining, failed)


def excluded_keys(deployment: Deployment, now: datetime) -> set[OfferKey]:
    """The offers of ``excluded_offers`` whose ``until`` is still ahead."""
    keys = set()
    for entry in deployment.excluded_offers or []:
        try:
            key = (str(entry["cloud"]), str(entry["region"]), entry.get("zone"),
                   str(entry["instance_type"]), bool(entry.get("spot", False)))
        except (KeyError, TypeError):
            continue  # a malformed entry excludes nothing
        if _until(entry, now) > now:
            keys.add(key)
    return keys


def _until(entry: Mapping[str, Any], now: datetime) -> datetime:
    """An entry's ``until`` (in ``now``'s time zone when it has none); the past if unreadable."""
    try:
        until = datetime.fromisoformat(str(entry["until"]))
    except (KeyError, TypeError, ValueError):
        return now - timedelta(seconds=1)
    return until.replace(tzinfo=now.tzinfo) if until.tzinfo is None else until


def exclude(deployment: Deployment, placement: Placement, reason: str, now: datetime,
            *, hold: timedelta = RECLAIM_EXCLUSION) -> None:
    """Add ``placement`` to the row's ``excluded_offers`` until ``now + hold`` (expired
    entries are dropped on the way)."""
    live = [entry for entry in deployment.excluded_offers or [] if _until(entry, now) > now]
    live.append({"cloud": placement.cloud, "region": placement.region, "zone": placement.zone,
                 "instance_type": placement.instance_type, "spot": placement.spot,
                 "until": (now + hold).isoformat(), "reason": reason})
    deployment.excluded_offers = live


def placement_of(instance: Instance) -> Placement:
    """The placement an instance row was created on (its cloud, region, zone, type, market)."""
    return Placement(cloud=instance.cloud or "", region=instance.region or "", zone=instance.zone,
                     instance_type=instance.instance_type or "", spot=bool(instance.spot),
                     price_per_hour=instance.price_per_hour)


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
