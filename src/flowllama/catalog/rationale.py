"""Sentences that explain an estimate: why this offer, and why nothing fits when nothing does."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flowllama.catalog.gpus import GPU_TYPES
from flowllama.catalog.models import ModelSpec
from flowllama.catalog.offers import Offer, PriceIndex, Shape
from flowllama.catalog.sizing import MemoryEstimate

if TYPE_CHECKING:
    from flowllama.catalog.optimizer import EstimateRequest


@dataclass(frozen=True, slots=True)
class Availability:
    """What the catalog offers before regions, pin and spot tolerance filter it.

    ``holding``: shapes of the preferred GPU kind that can hold the model; ``same_gpu``: all
    shapes of that kind, fitting or not.
    """

    gpu: str
    clouds: tuple[str, ...]
    index: PriceIndex
    holding: list[Shape] = field(default_factory=list)
    same_gpu: list[Shape] = field(default_factory=list)

CLOUD_NAMES = {"aws": "AWS", "gcp": "GCP"}


def context_label(tokens: int) -> str:
    """``8192`` -> ``8k``; other sizes as plain numbers."""
    return f"{tokens // 1024}k" if tokens % 1024 == 0 else str(tokens)


def _gb(value: int) -> str:
    return f"{value / 1e9:.1f} GB"


def hardware_label(offer: Offer) -> str:
    """``1xL4 (24 GB)`` or ``CPU-only, 64 GiB RAM``."""
    if offer.gpu is None:
        return f"CPU-only, {offer.memory_gib:g} GiB RAM"
    return f"{offer.gpu_count}x{offer.gpu} ({GPU_TYPES[offer.gpu].nominal_gb} GB)"


def _instance_label(offer: Offer) -> str:
    # GCP N1 offers are a VM with GPUs attached; say so, the type name alone does not.
    attached = offer.cloud == "gcp" and offer.instance_type.startswith("n1-") and offer.gpu
    suffix = f" + {offer.gpu_count}x{offer.gpu}" if attached else ""
    return f"{offer.instance_type}{suffix}{' spot' if offer.spot else ''}"


def _needs(model: ModelSpec, sizing: MemoryEstimate, offer: Offer) -> str:
    head = f"{model.name} @ {context_label(sizing.context_size)} ctx"
    if sizing.parallel > 1:
        head += f" x {sizing.parallel} slots"
    if offer.gpu is None:
        return f"{head} needs {_gb(sizing.min_ram_bytes)} of RAM -> fits {hardware_label(offer)}"
    return f"{head} needs {_gb(sizing.min_vram_bytes)} -> fits {hardware_label(offer)}"


def explain_recommendation(model: ModelSpec, sizing: MemoryEstimate, best: Offer,
                           by_cloud: dict[str, Offer | None]) -> str:
    """One sentence: the need, the fit, the pick and how it compares with the other cloud."""
    text = (f"{_needs(model, sizing, best)}; {_instance_label(best)} in {best.region} is "
            f"cheapest at ${best.price_per_hour:.2f}/h")
    for cloud, other in by_cloud.items():
        if cloud == best.cloud:
            continue
        name = CLOUD_NAMES.get(cloud, cloud)
        if other is None:
            text += f"; {name} has no offer that fits"
        elif other.price_per_month > best.price_per_month:
            saving = 1 - best.price_per_month / other.price_per_month
            text += f", {saving:.0%} below {name}'s best"
        else:
            text += f", level with {name}'s best"
    return text


def explain_offer(sizing: MemoryEstimate, offer: Offer, best: Offer) -> str:
    """Short line for a runner-up: its hardware and how much more it costs than the pick."""
    need = sizing.min_ram_bytes if offer.gpu is None else sizing.min_vram_bytes
    extra = offer.price_per_month / best.price_per_month - 1 if best.price_per_month else 0.0
    return (f"{hardware_label(offer)} holds {_gb(need)}; {_instance_label(offer)} in "
            f"{offer.region} at ${offer.price_per_hour:.2f}/h, +{extra:.0%} vs the pick")


def no_offer_reason(request: EstimateRequest, model: ModelSpec, sizing: MemoryEstimate,
                    unfiltered: Availability) -> str:
    """Why no candidate was found, naming the constraint that excluded everything."""
    gpu, index = unfiltered.gpu, unfiltered.index
    clouds = "/".join(CLOUD_NAMES.get(c, c) for c in unfiltered.clouds)
    head = f"{model.name} @ {context_label(sizing.context_size)} ctx"
    pin = request.instance_type
    if pin and not any((c, pin) in index.instance_types for c in unfiltered.clouds):
        return f"Unknown instance type {pin!r} on {clouds}"
    if pin and not any(s for s in unfiltered.holding if _has_type(s, pin)):
        return f"{head} does not fit on {pin}: {_requirement(sizing, gpu)}"
    if not unfiltered.holding:
        return _too_big(head, sizing, gpu, unfiltered, clouds)
    if request.regions and not any((c, r) in index.regions
                                   for c in unfiltered.clouds for r in request.regions):
        return f"None of the regions {', '.join(request.regions)} exists on {clouds}"
    if request.regions:
        return f"No offer in {', '.join(request.regions)} can hold {head}; other regions can"
    return _unpriced(head, clouds, request.spot_tolerance)


def _unpriced(head: str, clouds: str, spot_tolerance: str) -> str:
    if spot_tolerance == "none":
        return (f"The offers that hold {head} on {clouds} have no on-demand price; "
                "allow spot (spot_tolerance=high) or another cloud")
    return f"The offers that hold {head} on {clouds} have no price"


def _has_type(shape: Shape, instance_type: str) -> bool:
    return any(slot.instance_type == instance_type for slot in shape.slots)


def _requirement(sizing: MemoryEstimate, gpu: str) -> str:
    if gpu == "none":
        return f"needs {_gb(sizing.min_ram_bytes)} of RAM"
    return f"needs {_gb(sizing.min_vram_bytes)} of GPU memory on one GPU"


def _too_big(head: str, sizing: MemoryEstimate, gpu: str, unfiltered: Availability,
             clouds: str) -> str:
    if gpu == "none":
        largest = max((s.memory_gib for s in unfiltered.same_gpu), default=0)
        return (f"{head} {_requirement(sizing, gpu)}; the largest CPU-only instance on {clouds} "
                f"has {largest:g} GiB")
    if gpu == "auto":
        return f"{head} {_requirement(sizing, gpu)}; no GPU instance on {clouds} can hold it"
    largest = max((s.gpu_count for s in unfiltered.same_gpu), default=0)
    needed = sizing.gpus_needed(GPU_TYPES[gpu].memory_bytes)
    if not largest:
        return f"No {gpu} instance is offered on {clouds}"
    fit = (f"it would need {needed}x{gpu}" if needed
           else f"it does not fit even on 16x{gpu}")
    return (f"{head} {_requirement(sizing, gpu)}; {fit} but the largest {gpu} instance on "
            f"{clouds} has {largest}")
