"""Live GCP prices from the Cloud Billing Catalog API (Compute Engine SKUs).

google-cloud-billing is an optional extra (``flowllama[gcp]``), imported only when a refresh
runs. A machine type's price is vCPUs x the series' core rate + GiB x its RAM rate + GPUs x the
GPU rate, per region, for on-demand and spot ("Preemptible") usage. Rows that cannot be priced
this way (shared-core E2, A3 with bundled local SSD, a missing SKU) keep their snapshot price.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from flowllama.catalog.prices import CloudStatus, InstancePrice, LivePricesUnavailable

COMPUTE_ENGINE_SERVICE = "services/6F81-5844-456A"
_MACHINE_SKU = re.compile(
    r"^(?:Spot Preemptible )?(?P<series>[A-Z][A-Z0-9]*) (?:Predefined |AMD |Arm |Intel )?"
    r"Instance (?P<kind>Core|Ram) running in"
)
_GPU_SKU = re.compile(
    r"^(?:Spot Preemptible )?Nvidia (?:Tesla )?(?P<gpu>[A-Z][A-Za-z0-9]*)"
    r"(?P<variant>(?: 80GB)?(?: Mega)?) GPU running in"
)
_GPU_NAMES = {("A100", " 80GB"): "A100-80GB", ("H100", " 80GB"): "H100",
              ("H100", " 80GB Mega"): "H100-MEGA"}
_USAGE = {"OnDemand": "on_demand", "Preemptible": "spot"}
_NOT_REPRICED = frozenset({"e2-micro", "e2-small", "e2-medium"})
_NOT_REPRICED_SERIES = frozenset({"a3"})  # A3 prices include local SSD that SKUs bill apart

RateKey = tuple[str, str, str, str]
"""``(kind: core|ram|gpu, series or GPU name, region, usage: on_demand|spot)``."""


def default_client() -> Any:
    """A real ``CloudCatalogClient``; ``LivePricesUnavailable`` without the SDK or credentials."""
    try:
        from google.cloud import billing_v1
    except ImportError as exc:
        raise LivePricesUnavailable(
            "google-cloud-billing is not installed (pip install 'flowllama[gcp]')") from exc
    try:
        return billing_v1.CloudCatalogClient()
    except Exception as exc:  # DefaultCredentialsError and transport set-up failures
        raise LivePricesUnavailable(f"no usable GCP credentials: {exc}") from exc


def fetch_gcp_prices(rows: list[InstancePrice], *, client: Any = None
                     ) -> tuple[list[InstancePrice], CloudStatus]:
    """``rows`` re-priced from the live Compute Engine SKUs, and how much of it is live."""
    catalog = client if client is not None else default_client()
    failures: tuple[type[BaseException], ...] = (OSError, *_google_errors())
    try:
        skus = [sku_to_dict(sku) for sku in catalog.list_skus(parent=COMPUTE_ENGINE_SERVICE)]
    except failures as exc:
        raise LivePricesUnavailable(f"GCP Cloud Billing Catalog: {exc}") from exc
    rates = parse_rates(skus)
    if not rates:
        raise LivePricesUnavailable("GCP answered no usable Compute Engine SKU")
    updated, repriced, eligible = reprice(rows, rates)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    detail = (f"{repriced}/{eligible} priceable rows live; {len(rows) - eligible} shared-core "
              "or A3 rows keep snapshot prices")
    return updated, CloudStatus("live" if repriced == eligible else "mixed", now, detail)


def _google_errors() -> tuple[type[Exception], ...]:
    try:
        from google.api_core.exceptions import GoogleAPIError
        from google.auth.exceptions import GoogleAuthError
    except ImportError:
        return ()
    return (GoogleAPIError, GoogleAuthError)


def sku_to_dict(sku: Any) -> dict[str, Any]:
    """A SKU as a plain dict, whether it is a proto message or already a dict."""
    if isinstance(sku, dict):
        return sku
    return dict(type(sku).to_dict(sku))


def _get(data: dict[str, Any], snake: str, camel: str) -> Any:
    # proto-plus dicts use snake_case, the REST API's JSON camelCase.
    return data.get(snake, data.get(camel))


def _unit_price(sku: dict[str, Any]) -> float | None:
    infos = _get(sku, "pricing_info", "pricingInfo") or []
    if not infos:
        return None
    expression = _get(infos[0], "pricing_expression", "pricingExpression") or {}
    tiers = _get(expression, "tiered_rates", "tieredRates") or []
    if not tiers:
        return None
    price = _get(tiers[-1], "unit_price", "unitPrice") or {}
    return int(price.get("units", 0) or 0) + int(price.get("nanos", 0) or 0) / 1e9


def _sku_name(description: str) -> tuple[str, str] | None:
    machine = _MACHINE_SKU.match(description)
    if machine:
        return machine["kind"].lower(), machine["series"].lower()
    gpu = _GPU_SKU.match(description)
    if gpu:
        return "gpu", _GPU_NAMES.get((gpu["gpu"], gpu["variant"]), gpu["gpu"])
    return None


def parse_rates(skus: Iterable[dict[str, Any]]) -> dict[RateKey, float]:
    """``{(kind, name, region, usage): $/unit-hour}`` from Compute Engine SKUs."""
    rates: dict[RateKey, float] = {}
    for sku in skus:
        category = sku.get("category") or {}
        usage = _USAGE.get(_get(category, "usage_type", "usageType") or "")
        named = _sku_name(sku.get("description", ""))
        price = _unit_price(sku)
        if usage is None or named is None or price is None:
            continue
        for region in _get(sku, "service_regions", "serviceRegions") or []:
            rates[(named[0], named[1], region, usage)] = price
    return rates


def _price(row: InstancePrice, rates: dict[RateKey, float], usage: str) -> float | None:
    series = row.instance_type.split("-")[0]
    core = rates.get(("core", series, row.region, usage))
    ram = rates.get(("ram", series, row.region, usage))
    if core is None or ram is None:
        return None
    total = row.vcpus * core + row.memory_gib * ram
    if row.gpu:
        gpu = rates.get(("gpu", row.gpu, row.region, usage))
        if gpu is None:
            return None
        total += row.gpu_count * gpu
    return round(total, 6)


def reprice(rows: list[InstancePrice], rates: dict[RateKey, float]
            ) -> tuple[list[InstancePrice], int, int]:
    """Rows with live prices where every rate is known; also (repriced, eligible) counts."""
    updated = []
    repriced = eligible = 0
    for row in rows:
        series = row.instance_type.split("-")[0]
        if row.instance_type in _NOT_REPRICED or series in _NOT_REPRICED_SERIES:
            updated.append(row)
            continue
        eligible += 1
        on_demand = _price(row, rates, "on_demand")
        spot = _price(row, rates, "spot")
        repriced += on_demand is not None
        updated.append(replace(row, on_demand=row.on_demand if on_demand is None else on_demand,
                               spot=row.spot if spot is None else spot))
    return updated, repriced, eligible
