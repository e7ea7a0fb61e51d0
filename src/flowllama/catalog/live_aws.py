"""Live AWS prices: on-demand from the Price List API, spot from EC2's spot price history.

boto3 is an optional extra (``flowllama[aws]``) and is imported only here, when a refresh runs.
Prices replace the snapshot's for the same instance types, regions and availability zones;
rows AWS does not answer for keep their snapshot price and make the result "mixed".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from flowllama.catalog.prices import CloudStatus, InstancePrice, LivePricesUnavailable

ClientFactory = Callable[[str, str], Any]
"""``(service, region) -> boto3 client``; injectable so tests can use moto and stubs."""

PRICING_REGION = "us-east-1"  # the Price List API is served from a few regions only
_PRODUCT_FILTERS = {
    "operatingSystem": "Linux",
    "tenancy": "Shared",
    "preInstalledSw": "NA",
    "capacitystatus": "Used",
}
_SPOT_PRODUCTS = ("Linux/UNIX", "Linux/UNIX (Amazon VPC)")
_MAX_WORKERS = 8


def default_client_factory() -> ClientFactory:
    """A factory of real boto3 clients; ``LivePricesUnavailable`` if boto3 is not installed."""
    try:
        import boto3
    except ImportError as exc:
        raise LivePricesUnavailable("boto3 is not installed (pip install 'flowllama[aws]')") \
            from exc
    session = boto3.session.Session()
    if session.get_credentials() is None:
        raise LivePricesUnavailable("no AWS credentials configured")
    return lambda service, region: session.client(service, region_name=region)


def fetch_aws_prices(
    rows: list[InstancePrice], *, client_factory: ClientFactory | None = None
) -> tuple[list[InstancePrice], CloudStatus]:
    """``rows`` re-priced from AWS's live APIs, and how much of it is live."""
    factory = client_factory or default_client_factory()
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError as exc:  # a custom factory without the SDK installed
        raise LivePricesUnavailable("botocore is not installed (pip install 'flowllama[aws]')") \
            from exc
    types = sorted({row.instance_type for row in rows})
    regions = sorted({row.region for row in rows})
    try:
        on_demand = on_demand_prices(factory("pricing", PRICING_REGION), types)
    except (BotoCoreError, ClientError) as exc:
        raise LivePricesUnavailable(f"AWS Price List API: {exc}") from exc
    spot, failed = spot_prices(factory, regions, types)
    updated, live_od, live_spot = _apply(rows, on_demand, spot)
    if not live_od and not live_spot:
        raise LivePricesUnavailable("AWS answered no price for any catalog instance type")
    now = datetime.now(UTC).isoformat(timespec="seconds")
    detail = (f"{live_od}/{len(rows)} on-demand and {live_spot}/{len(rows)} spot prices live"
              + (f"; spot history failed in {', '.join(failed)}" if failed else ""))
    complete = live_od == len(rows) and not failed
    return updated, CloudStatus("live" if complete else "mixed", now, detail)


def on_demand_prices(pricing: Any, instance_types: Iterable[str]) -> dict[tuple[str, str], float]:
    """``{(instance type, region): $/h}`` for Linux, shared tenancy, no pre-installed software."""
    def one(instance_type: str) -> dict[tuple[str, str], float]:
        filters = [{"Type": "TERM_MATCH", "Field": field, "Value": value}
                   for field, value in {**_PRODUCT_FILTERS, "instanceType": instance_type}.items()]
        found: dict[tuple[str, str], float] = {}
        paginator = pricing.get_paginator("get_products")
        for page in paginator.paginate(ServiceCode="AmazonEC2", Filters=filters):
            for item in page["PriceList"]:
                parsed = parse_price_list_item(item)
                if parsed is not None:
                    key, price = parsed
                    found[key] = min(price, found.get(key, price))
        return found

    result: dict[tuple[str, str], float] = {}
    with ThreadPoolExecutor(_MAX_WORKERS) as pool:
        for found in pool.map(one, instance_types):
            result.update(found)
    return result


def parse_price_list_item(item: str | dict[str, Any]) -> tuple[tuple[str, str], float] | None:
    """``((instance type, region), $/h)`` from one GetProducts entry, None if not usable."""
    product = json.loads(item) if isinstance(item, str) else item
    attributes = product.get("product", {}).get("attributes", {})
    region = attributes.get("regionCode")
    instance_type = attributes.get("instanceType")
    if not region or not instance_type:
        return None
    prices = [
        float(dimension["pricePerUnit"]["USD"])
        for term in product.get("terms", {}).get("OnDemand", {}).values()
        for dimension in term.get("priceDimensions", {}).values()
        if dimension.get("unit") in ("Hrs", "Hours") and "USD" in dimension.get("pricePerUnit", {})
    ]
    positive = [price for price in prices if price > 0]
    return ((instance_type, region), min(positive)) if positive else None


def spot_prices(factory: ClientFactory, regions: list[str], instance_types: list[str]
                ) -> tuple[dict[tuple[str, str, str], float], list[str]]:
    """Current spot ``{(type, region, AZ ID): $/h}`` and the regions that failed."""
    from botocore.exceptions import BotoCoreError, ClientError

    def one(region: str) -> dict[tuple[str, str, str], float] | None:
        try:
            return _region_spot(factory("ec2", region), region, instance_types)
        except (BotoCoreError, ClientError):
            return None

    result: dict[tuple[str, str, str], float] = {}
    failed = []
    with ThreadPoolExecutor(_MAX_WORKERS) as pool:
        for region, found in zip(regions, pool.map(one, regions), strict=True):
            if found is None:
                failed.append(region)
            else:
                result.update(found)
    return result, failed


def _region_spot(ec2: Any, region: str, instance_types: list[str]
                 ) -> dict[tuple[str, str, str], float]:
    # The snapshot names zones by AZ ID (use1-az1), which is the same in every account;
    # spot history answers with account-specific names (us-east-1a), so translate.
    zones = ec2.describe_availability_zones(AllAvailabilityZones=True)["AvailabilityZones"]
    zone_ids = {zone["ZoneName"]: zone.get("ZoneId", zone["ZoneName"]) for zone in zones}
    latest: dict[tuple[str, str, str], tuple[datetime, float]] = {}
    paginator = ec2.get_paginator("describe_spot_price_history")
    pages = paginator.paginate(InstanceTypes=instance_types,
                               ProductDescriptions=list(_SPOT_PRODUCTS),
                               StartTime=datetime.now(UTC))
    for page in pages:
        for entry in page["SpotPriceHistory"]:
            zone = zone_ids.get(entry["AvailabilityZone"], entry["AvailabilityZone"])
            key = (entry["InstanceType"], region, zone)
            seen = latest.get(key)
            if seen is None or entry["Timestamp"] > seen[0]:
                latest[key] = (entry["Timestamp"], float(entry["SpotPrice"]))
    return {key: price for key, (_, price) in latest.items()}


def _apply(rows: list[InstancePrice], on_demand: dict[tuple[str, str], float],
           spot: dict[tuple[str, str, str], float]) -> tuple[list[InstancePrice], int, int]:
    updated = []
    live_od = live_spot = 0
    for row in rows:
        od = on_demand.get((row.instance_type, row.region))
        sp = spot.get((row.instance_type, row.region, row.zone or ""))
        live_od += od is not None
        live_spot += sp is not None
        updated.append(replace(row, on_demand=row.on_demand if od is None else round(od, 6),
                               spot=row.spot if sp is None else round(sp, 6)))
    return updated, live_od, live_spot
