"""The cheapest place to run a model: size it, filter the offers that hold it, rank by price.

``estimate`` is what ``GET /api/pricing/estimate`` and ``flowllama estimate`` call. Impossible
constraints give a result with no candidates and a ``reason``; only bad input (unknown model,
context above the model's maximum, unknown GPU or cloud) raises.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import takewhile
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flowllama.catalog.disk import root_disk_gib
from flowllama.catalog.gpus import GPU_TYPES, normalize_gpu_preference
from flowllama.catalog.models import ModelCatalog, ModelSpec, default_catalog
from flowllama.catalog.offers import (
    HOURS_PER_MONTH,
    CostBreakdown,
    Offer,
    Shape,
    Slot,
    build_index,
    fixed_monthly,
    iter_prices,
    make_offer,
)
from flowllama.catalog.prices import CLOUDS, CloudStatus, PriceCatalog
from flowllama.catalog.rationale import (
    Availability,
    explain_offer,
    explain_recommendation,
    no_offer_reason,
)
from flowllama.catalog.sizing import GIB, MemoryEstimate, estimate_memory
from flowllama.errors import InvalidInput

MAX_CANDIDATES = 20
CPU_AUTO_MAX_WEIGHTS_BYTES = 3 * GIB
"""Under ``gpu: auto`` CPU-only offers compete only for models whose weights are at most this
(about 3B parameters at 4-5 bits): beyond it CPU decoding drops under ~10 tokens/s, and a GPU
is what a user asking for "auto" expects."""
CPU_AUTO_MIN_VCPUS = 4
"""...and only instances with at least this many vCPUs (decoding speed scales with cores; a
shared-core or 1-vCPU machine is not a serving choice ``auto`` should make)."""
SPOT_SAVING_FOR_LOW_TOLERANCE = 0.5
"""With ``spot_tolerance=low`` spot is taken only when it costs under half the on-demand pick."""


class EstimateRequest(BaseModel):
    """What to size and price.

    ``context_size`` defaults to the model's own default (Ollama's 4,096, capped at the model's
    maximum). ``allow_cpu``: under ``gpu: auto``, CPU-only instances compete with GPU ones for
    small models (see ``CPU_AUTO_MAX_WEIGHTS_BYTES``) when they have the RAM.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1, max_length=200)
    context_size: int | None = Field(None, ge=1, le=1_048_576)
    parallel: int = Field(1, ge=1, le=64)
    spot_tolerance: Literal["none", "low", "high"] = "none"
    gpu: str = "auto"
    clouds: tuple[Literal["aws", "gcp"], ...] = Field(CLOUDS, min_length=1)
    regions: tuple[str, ...] | None = None
    instance_type: str | None = Field(None, max_length=64)
    quantization: str | None = None
    kv_cache_type: Literal["f16", "q8_0", "q4_0"] = "f16"
    allow_cpu: bool = True


@dataclass(frozen=True, slots=True)
class EstimateResult:
    """The recommendation, the best per cloud, the ranked candidates and the sizing behind them.

    ``source``/``as_of`` describe the prices used; ``reason`` is set when nothing fits.
    ``root_disk_gib`` is the root disk a server of the model is given (``catalog.disk``), the
    size every offer's ``breakdown.disk_gb`` prices and the one the stacks provision.
    """

    model: str
    context_size: int
    parallel: int
    spot_tolerance: str
    gpu: str
    recommended: Offer | None
    by_cloud: dict[str, Offer | None]
    candidates: tuple[Offer, ...]
    requirements: MemoryEstimate
    root_disk_gib: int
    source: str
    as_of: str
    prices: dict[str, CloudStatus]
    reason: str | None
    rationale: str


def parse_request(data: Mapping[str, Any]) -> EstimateRequest:
    """Validate raw input into a request; ``InvalidInput`` naming the first bad field."""
    try:
        return EstimateRequest.model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or None
        raise InvalidInput(f"{where}: {first['msg']}", field=where) from None


@dataclass(frozen=True, slots=True)
class _Entry:
    key: tuple[Any, ...]
    shape: Shape
    slot: Slot
    spot: bool


def estimate(
    request: EstimateRequest,
    *,
    models: ModelCatalog | None = None,
    prices: PriceCatalog | None = None,
) -> EstimateResult:
    """Size ``request.model`` and rank every offer that holds it, cheapest first.

    ``models`` defaults to the packaged catalog and ``prices`` to :func:`current_prices`.
    """
    catalog = models or default_catalog()
    model = catalog.get(request.model)
    context = _context_size(request, model)
    gpu = normalize_gpu_preference(request.gpu)
    sizing = _sizing(model, context, request.parallel, request.quantization,
                     request.kv_cache_type)
    if prices is None:
        from flowllama.catalog.refresh import current_prices

        prices = current_prices()
    index = build_index(prices)
    clouds: tuple[str, ...] = tuple(dict.fromkeys(request.clouds))
    cpu_too = gpu == "auto" and _cpu_allowed(request, sizing)
    shapes = [s for s in index.shapes
              if s.cloud in clouds and _holds(s, gpu, sizing, cpu_too=cpu_too)]
    fixed = {cloud: fixed_monthly(cloud, sizing.breakdown.weights_bytes) for cloud in clouds}
    search = _Search(shapes, request, fixed)
    ranked = search.ranked(clouds, MAX_CANDIDATES, twins=True)
    candidates = [search.offer(entry) for entry in ranked]
    by_cloud = {cloud: _first_offer(search.ranked((cloud,), 1), search) for cloud in clouds}
    reason = None
    rationale = ""
    if candidates:
        candidates, by_cloud, rationale = _explained(model, sizing, candidates, by_cloud)
    else:
        same_gpu = [s for s in index.shapes if s.cloud in clouds and _same_kind(s, gpu)]
        reason = no_offer_reason(
            request, model, sizing,
            Availability(gpu, clouds, index, holding=shapes, same_gpu=same_gpu),
        )
    return EstimateResult(
        model=model.name, context_size=context, parallel=request.parallel,
        spot_tolerance=request.spot_tolerance, gpu=gpu,
        recommended=candidates[0] if candidates else None, by_cloud=by_cloud,
        candidates=tuple(candidates), requirements=sizing,
        root_disk_gib=root_disk_gib(sizing.breakdown.weights_bytes), source=prices.source,
        as_of=prices.as_of, prices=dict(prices.clouds), reason=reason, rationale=rationale,
    )


def _explained(model: ModelSpec, sizing: MemoryEstimate, candidates: list[Offer],
               by_cloud: dict[str, Offer | None]
               ) -> tuple[list[Offer], dict[str, Offer | None], str]:
    """Candidates and per-cloud bests with their rationale lines filled in."""
    best = candidates[0]
    rationale = explain_recommendation(model, sizing, best, by_cloud)
    best = replace(best, rationale=rationale)
    ranked = [best] + [replace(o, rationale=explain_offer(sizing, o, best))
                       for o in candidates[1:]]
    clouds = {c: (best if o is not None and _same(o, best) else
                  replace(o, rationale=explain_offer(sizing, o, best)) if o else None)
              for c, o in by_cloud.items()}
    return ranked, clouds, rationale


def _context_size(request: EstimateRequest, model: ModelSpec) -> int:
    maximum = model.architecture.context_length
    if request.context_size is None:
        return model.default_context_size
    if request.context_size > maximum:
        raise InvalidInput(
            f"context_size {request.context_size} is above {model.name}'s maximum of {maximum}",
            field="context_size",
        )
    return request.context_size


@lru_cache(maxsize=2048)
def _sizing(model: ModelSpec, context: int, parallel: int, quantization: str | None,
            kv_cache_type: str) -> MemoryEstimate:
    return estimate_memory(model, context_size=context, parallel=parallel,
                           quantization=quantization, kv_cache_type=kv_cache_type)


def _same_kind(shape: Shape, gpu: str) -> bool:
    """Whether the shape matches the GPU preference (``none`` = CPU-only)."""
    if gpu == "none":
        return shape.gpu is None
    return shape.gpu is not None and (gpu == "auto" or GPU_TYPES[shape.gpu].family == gpu)


def _cpu_allowed(request: EstimateRequest, sizing: MemoryEstimate) -> bool:
    """Whether CPU-only offers compete under ``gpu: auto``: allowed, and a small model."""
    return request.allow_cpu and sizing.breakdown.weights_bytes <= CPU_AUTO_MAX_WEIGHTS_BYTES


def _holds(shape: Shape, gpu: str, sizing: MemoryEstimate, *, cpu_too: bool = False) -> bool:
    """Whether the shape matches the GPU preference (or is a CPU-only shape and ``cpu_too``)
    and has the memory for the model."""
    auto_cpu = cpu_too and shape.gpu is None and shape.vcpus >= CPU_AUTO_MIN_VCPUS
    if not (_same_kind(shape, gpu) or auto_cpu):
        return False
    if shape.gpu is None:
        return shape.memory_gib * GIB >= sizing.min_ram_bytes
    return sizing.fits(shape.gpu_memory_mib * 1024**2, shape.gpu_count)


class _Search:
    """Lazy k-way merge over the shapes' pre-sorted slots, applying the spot tolerance."""

    def __init__(self, shapes: list[Shape], request: EstimateRequest,
                 fixed: dict[str, CostBreakdown]) -> None:
        self.shapes = shapes
        self.request = request
        self.fixed = fixed
        self.regions = frozenset(request.regions) if request.regions else None

    def ranked(self, clouds: Iterable[str], limit: int, *, twins: bool = False
               ) -> list[_Entry]:
        """Up to ``limit`` entries with distinct (instance, GPUs, region, market), cheapest
        first. With ``twins``, a spot entry is taken only together with the on-demand offer of
        the same instance and region (its twin; on-demand is allowed at every spot tolerance),
        both within ``limit``: after a capacity error on spot the agent tries that first
        (``agent/placement.after_capacity_error``), so it must not fall past the cap."""
        shapes = [shape for shape in self.shapes if shape.cloud in clouds]
        streams = [self._stream(shapes, spot=False)]
        tolerance = self.request.spot_tolerance
        if tolerance == "high":
            streams.append(self._stream(shapes, spot=True))
        elif tolerance == "low":
            best = next(self._stream(shapes, spot=False), None)
            ceiling = None if best is None else self._hourly(best) * SPOT_SAVING_FOR_LOW_TOLERANCE
            streams.append(self._stream(shapes, spot=True, below=ceiling))
        found: dict[tuple[int, bool], _Entry] = {}
        for entry in heapq.merge(*streams, key=lambda e: e.key):
            if (id(entry.slot), entry.spot) in found:
                continue
            twin = self._twin(entry) if twins else None
            if twin is not None and (id(twin.slot), False) in found:
                twin = None
            if len(found) + (2 if twin else 1) > limit:
                continue  # no room for a spot offer and its twin; a cheaper single may fit
            found[(id(entry.slot), entry.spot)] = entry
            if twin is not None:
                found[(id(twin.slot), False)] = twin
            if len(found) == limit:
                break
        return sorted(found.values(), key=lambda e: e.key)

    def _twin(self, entry: _Entry) -> _Entry | None:
        """The on-demand entry of a spot entry's instance and region, if it has that price."""
        if not entry.spot or entry.slot.on_demand is None:
            return None
        return next(self._entries(entry.shape, [(entry.slot.on_demand, entry.slot)], False))

    def _stream(self, shapes: list[Shape], *, spot: bool,
                below: float | None = None) -> Iterator[_Entry]:
        per_shape = []
        for shape in shapes:
            prices: Iterable[tuple[float, Slot]] = iter_prices(
                shape, spot=spot, regions=self.regions, instance_type=self.request.instance_type)
            if below is not None:
                prices = takewhile(_cheaper_than(below), prices)
            per_shape.append(self._entries(shape, prices, spot))
        return heapq.merge(*per_shape, key=lambda e: e.key)

    def _entries(self, shape: Shape, prices: Iterable[tuple[float, Slot]],
                 spot: bool) -> Iterator[_Entry]:
        fixed = self.fixed[shape.cloud]
        extra = fixed.disk + fixed.egress
        for hourly, slot in prices:
            key = (hourly * HOURS_PER_MONTH + extra, hourly, slot.cloud, slot.instance_type,
                   shape.gpu or "", shape.gpu_count, slot.region, spot)
            yield _Entry(key, shape, slot, spot)

    @staticmethod
    def _hourly(entry: _Entry) -> float:
        return float(entry.key[1])

    def offer(self, entry: _Entry) -> Offer:
        """The public offer for a ranked entry."""
        return make_offer(entry.shape, entry.slot, spot=entry.spot,
                          fixed=self.fixed[entry.slot.cloud])


def _cheaper_than(ceiling: float) -> Callable[[tuple[float, Slot]], bool]:
    def check(item: tuple[float, Slot]) -> bool:
        return item[0] < ceiling

    return check


def _first_offer(entries: list[_Entry], search: _Search) -> Offer | None:
    return search.offer(entries[0]) if entries else None


def _same(a: Offer, b: Offer) -> bool:
    return (a.cloud, a.instance_type, a.gpu, a.gpu_count, a.region, a.spot) == (
        b.cloud, b.instance_type, b.gpu, b.gpu_count, b.region, b.spot)
