"""Priced offers and the index the optimizer searches.

The index groups the price catalog into "shapes" (same cloud, GPU, GPU count, GPU memory and
RAM), so a request checks whether a model fits once per shape rather than once per row, and
keeps each shape's (instance type, region) slots pre-sorted by on-demand and by spot price.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from flowllama.catalog.disk import root_disk_gib
from flowllama.catalog.gpus import GPU_TYPES
from flowllama.catalog.prices import InstancePrice, PriceCatalog

HOURS_PER_MONTH = 730
# Assumptions behind the monthly breakdown (docs/pricing.md): the root disk the stacks provision
# for the model (catalog/disk.py), at gp3 (AWS, us-east-1) / pd-balanced (GCP, us-central1) list
# prices per GB-month (both bill a volume's provisioned size, given in GiB), and 50 GB/month of
# API responses leaving the cloud at the first internet-egress tier.
DISK_USD_PER_GB_MONTH = {"aws": 0.08, "gcp": 0.10}
EGRESS_GB_PER_MONTH = 50
EGRESS_USD_PER_GB = {"aws": 0.09, "gcp": 0.12}


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """Monthly cost of an offer (USD, 730 hours) and the volumes it assumes."""

    compute: float
    disk: float
    egress: float
    disk_gb: int
    egress_gb: int


@dataclass(frozen=True, slots=True)
class Offer:
    """One way to run the model: an instance in a region (zone), on-demand or spot."""

    cloud: str
    region: str
    zone: str | None
    instance_type: str
    gpu: str | None
    gpu_count: int
    gpu_memory_gib: float
    vcpus: float
    memory_gib: float
    spot: bool
    price_per_hour: float
    price_per_month: float
    breakdown: CostBreakdown
    rationale: str = ""


@dataclass(frozen=True, slots=True)
class Slot:
    """One instance type (with its GPUs) in one region; the cheapest zone of each price."""

    cloud: str
    instance_type: str
    region: str
    on_demand: float | None
    on_demand_zone: str | None
    spot: float | None
    spot_zone: str | None


@dataclass(slots=True)
class Shape:
    """Hardware shared by a group of slots, with the slots sorted by each price."""

    cloud: str
    gpu: str | None
    gpu_count: int
    gpu_memory_mib: int
    vcpus: float
    memory_gib: float
    slots: list[Slot] = field(default_factory=list)
    by_on_demand: list[Slot] = field(default_factory=list)
    by_spot: list[Slot] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PriceIndex:
    """Shapes of one price catalog, plus the instance types and regions it knows."""

    shapes: tuple[Shape, ...]
    instance_types: frozenset[tuple[str, str]]
    regions: frozenset[tuple[str, str]]


def _cheaper(price: float | None, zone: str | None, best: tuple[float | None, str | None]
             ) -> tuple[float | None, str | None]:
    if price is None or (best[0] is not None and best[0] <= price):
        return best
    return price, zone


@lru_cache(maxsize=4)
def build_index(prices: PriceCatalog) -> PriceIndex:
    """Group ``prices`` into shapes; rows of GPUs the sizing table lacks are left out."""
    Priced = tuple[float | None, str | None]
    best: dict[tuple[object, ...], tuple[Priced, Priced]] = {}
    hardware: dict[tuple[object, ...], InstancePrice] = {}
    for row in prices.rows:
        if row.gpu is not None and (row.gpu not in GPU_TYPES or row.gpu_count < 1):
            continue
        key = (row.cloud, row.instance_type, row.gpu, row.gpu_count, row.region)
        od, sp = best.get(key, ((None, None), (None, None)))
        best[key] = (_cheaper(row.on_demand, row.zone, od), _cheaper(row.spot, row.zone, sp))
        hardware.setdefault(key, row)
    shapes: dict[tuple[object, ...], Shape] = {}
    for slot_key, ((od_price, od_zone), (sp_price, sp_zone)) in best.items():
        row = hardware[slot_key]
        shape_key = (row.cloud, row.gpu, row.gpu_count, row.gpu_memory_mib, row.memory_gib,
                     row.vcpus)
        shape = shapes.get(shape_key)
        if shape is None:
            shape = shapes[shape_key] = Shape(row.cloud, row.gpu, row.gpu_count,
                                              row.gpu_memory_mib, row.vcpus, row.memory_gib)
        # AWS on-demand prices are per region, so an on-demand zone would only be noise.
        zone = od_zone if row.cloud == "gcp" else None
        shape.slots.append(
            Slot(row.cloud, row.instance_type, row.region, od_price, zone, sp_price, sp_zone)
        )
    for shape in shapes.values():
        shape.by_on_demand = sorted((s for s in shape.slots if s.on_demand is not None),
                                    key=lambda s: (s.on_demand, s.instance_type, s.region))
        shape.by_spot = sorted((s for s in shape.slots if s.spot is not None),
                               key=lambda s: (s.spot, s.instance_type, s.region))
    return PriceIndex(
        tuple(shapes.values()),
        frozenset((row.cloud, row.instance_type) for row in prices.rows),
        frozenset((row.cloud, row.region) for row in prices.rows),
    )


def fixed_monthly(cloud: str, weights_bytes: int) -> CostBreakdown:
    """Disk and egress per month for a model whose weights take ``weights_bytes`` (compute
    left at zero); the disk is the root disk a server of it is given (``root_disk_gib``)."""
    disk_gb = root_disk_gib(weights_bytes)
    return CostBreakdown(
        compute=0.0,
        disk=round(disk_gb * DISK_USD_PER_GB_MONTH[cloud], 2),
        egress=round(EGRESS_GB_PER_MONTH * EGRESS_USD_PER_GB[cloud], 2),
        disk_gb=disk_gb,
        egress_gb=EGRESS_GB_PER_MONTH,
    )


def make_offer(shape: Shape, slot: Slot, *, spot: bool, fixed: CostBreakdown) -> Offer:
    """The public offer for one slot at its spot or on-demand price."""
    hourly = slot.spot if spot else slot.on_demand
    assert hourly is not None  # callers only pass slots that have this price
    compute = round(hourly * HOURS_PER_MONTH, 2)
    breakdown = CostBreakdown(compute, fixed.disk, fixed.egress, fixed.disk_gb, fixed.egress_gb)
    return Offer(
        cloud=slot.cloud, region=slot.region,
        zone=slot.spot_zone if spot else slot.on_demand_zone,
        instance_type=slot.instance_type, gpu=shape.gpu, gpu_count=shape.gpu_count,
        gpu_memory_gib=shape.gpu_memory_mib / 1024, vcpus=shape.vcpus,
        memory_gib=shape.memory_gib, spot=spot, price_per_hour=hourly,
        price_per_month=round(compute + fixed.disk + fixed.egress, 2), breakdown=breakdown,
    )


def iter_prices(shape: Shape, *, spot: bool, regions: frozenset[str] | None,
                instance_type: str | None) -> Iterator[tuple[float, Slot]]:
    """``(hourly price, slot)`` of one shape, cheapest first, matching the filters."""
    for slot in shape.by_spot if spot else shape.by_on_demand:
        if regions is not None and slot.region not in regions:
            continue
        if instance_type is not None and slot.instance_type != instance_type:
            continue
        price = slot.spot if spot else slot.on_demand
        assert price is not None
        yield price, slot
