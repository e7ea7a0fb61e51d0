"""Catalog reports: the model x context matrix and the AWS vs GCP price comparison.

``matrix_rows`` asks the optimizer itself (one estimate per model, context, cloud and market),
so the report shows exactly what an estimate or a deployment would pick. ``compare_rows`` reads
the price rows directly: per GPU class the cheapest $/GPU-hour, per CPU family the cheapest
$/vCPU-hour, on each cloud, on-demand and spot. Both render as CSV or Markdown
(``docs/models.md`` and ``docs/costs.md`` are generated from them; a test keeps them current).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from flowllama.catalog.gpus import SIZING_TABLE
from flowllama.catalog.models import ModelCatalog, default_catalog
from flowllama.catalog.offers import Offer
from flowllama.catalog.optimizer import EstimateRequest, estimate
from flowllama.catalog.prices import CLOUDS, InstancePrice, PriceCatalog
from flowllama.catalog.sizing import MemoryEstimate

MATRIX_CONTEXTS = (2048, 8192, 32768, 131072)
UnitPrice = Callable[[InstancePrice, float], float]
GPU_CLASSES = ("T4", "L4", "A10G", "L40S", "V100", "A100", "A100-80GB", "H100", "H200")


@dataclass(frozen=True, slots=True)
class MatrixRow:
    """One model at one context: memory, the smallest GPU that holds it, the cheapest offers."""

    model: str
    context: int
    vram_bytes: int
    ram_bytes: int
    smallest_gpu: str
    on_demand: dict[str, Offer | None]
    spot: dict[str, Offer | None]


@dataclass(frozen=True, slots=True)
class Cheapest:
    """The lowest unit price of a class on one cloud and market, and where it is."""

    unit_price: float
    instance_type: str
    region: str


@dataclass(frozen=True, slots=True)
class CompareRow:
    """A GPU class ($/GPU-hour) or CPU family ($/vCPU-hour) on each cloud."""

    kind: str
    name: str
    on_demand: dict[str, Cheapest | None]
    spot: dict[str, Cheapest | None]
    regions: dict[str, int]


def matrix_rows(prices: PriceCatalog, models: ModelCatalog | None = None,
                contexts: Sequence[int] = MATRIX_CONTEXTS) -> list[MatrixRow]:
    """Every model of ``models`` (default: the packaged catalog) at each allowed context."""
    catalog = models or default_catalog()
    rows = []
    for model in catalog.all():
        for context in contexts:
            if context <= model.architecture.context_length:
                rows.append(_matrix_row(model.name, context, catalog, prices))
    return rows


def _matrix_row(name: str, context: int, catalog: ModelCatalog,
                prices: PriceCatalog) -> MatrixRow:
    on_demand: dict[str, Offer | None] = {}
    spot: dict[str, Offer | None] = {}
    sizing = None
    for cloud in CLOUDS:
        plain = estimate(EstimateRequest(model=name, context_size=context, clouds=(cloud,)),
                         models=catalog, prices=prices)
        anything = estimate(EstimateRequest(model=name, context_size=context, clouds=(cloud,),
                                            spot_tolerance="high"),
                            models=catalog, prices=prices)
        on_demand[cloud] = plain.recommended
        spot[cloud] = next((offer for offer in anything.candidates if offer.spot), None)
        sizing = plain.requirements
    assert sizing is not None
    return MatrixRow(name, context, sizing.min_vram_bytes, sizing.min_ram_bytes,
                     smallest_gpu(sizing), on_demand, spot)


def smallest_gpu(sizing: MemoryEstimate) -> str:
    """The smallest GPU class that holds the model alone, else the fewest GPUs that do."""
    fits = {fit.gpu: fit for fit in sizing.gpus if fit.gpus_needed}
    for gpu in SIZING_TABLE:
        if gpu in fits and fits[gpu].fits_one:
            return f"1x{gpu}"
    several = sorted((fit.gpus_needed * fit.memory_bytes_per_gpu, fit.gpus_needed, fit.gpu)
                     for fit in fits.values() if fit.gpus_needed)
    return f"{several[0][1]}x{several[0][2]}" if several else "none (over 16 GPUs)"


def compare_rows(prices: PriceCatalog) -> list[CompareRow]:
    """Each GPU class, then each CPU family, as priced on every cloud."""
    gpu_rows = [row for row in prices.rows if row.gpu is not None]
    cpu_rows = [row for row in prices.rows if row.gpu is None]
    result = [_compare("GPU", gpu, [r for r in gpu_rows if r.gpu == gpu], _per_gpu)
              for gpu in GPU_CLASSES]
    result.append(_compare("CPU", "any CPU-only", cpu_rows, _per_vcpu))
    families = sorted({(row.cloud, cpu_family(row)) for row in cpu_rows})
    for cloud, family in families:
        rows = [r for r in cpu_rows if r.cloud == cloud and cpu_family(r) == family]
        result.append(_compare("CPU", f"{cloud} {family}", rows, _per_vcpu))
    return result


def cpu_family(row: InstancePrice) -> str:
    """``c7i`` of ``c7i.xlarge`` (AWS), ``n2d`` of ``n2d-standard-4`` (GCP)."""
    return row.instance_type.split("." if row.cloud == "aws" else "-")[0]


def _per_gpu(row: InstancePrice, price: float) -> float:
    return price / max(row.gpu_count, 1)


def _per_vcpu(row: InstancePrice, price: float) -> float:
    return price / max(row.vcpus, 0.001)


def _compare(kind: str, name: str, rows: list[InstancePrice], per_unit: UnitPrice
             ) -> CompareRow:
    on_demand: dict[str, Cheapest | None] = {}
    spot: dict[str, Cheapest | None] = {}
    regions: dict[str, int] = {}
    for cloud in CLOUDS:
        mine = [row for row in rows if row.cloud == cloud]
        regions[cloud] = len({row.region for row in mine})
        on_demand[cloud] = _cheapest(mine, per_unit, spot=False)
        spot[cloud] = _cheapest(mine, per_unit, spot=True)
    return CompareRow(kind, name, on_demand, spot, regions)


def _cheapest(rows: Iterable[InstancePrice], per_unit: UnitPrice, *, spot: bool
              ) -> Cheapest | None:
    best: Cheapest | None = None
    for row in rows:
        price = row.spot if spot else row.on_demand
        if price is None or price <= 0:
            continue
        unit_price = per_unit(row, price)
        key = (unit_price, row.instance_type, row.region)
        if best is None or key < (best.unit_price, best.instance_type, best.region):
            best = Cheapest(unit_price, row.instance_type, row.region)
    return best
