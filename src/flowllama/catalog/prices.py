"""The price catalog: every instance offer FlowLlama can price, with where the numbers came from.

Rows are per region (and per availability zone where AWS spot prices differ by zone). The
packaged snapshot ``data/prices.json.gz`` is built by :mod:`flowllama.catalog.snapshot`; a live
refresh (:mod:`flowllama.catalog.refresh`) produces the same structure with ``source`` "live" or
"mixed".
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

Cloud = Literal["aws", "gcp"]
CLOUDS: tuple[Cloud, ...] = ("aws", "gcp")
Source = Literal["snapshot", "live", "mixed"]
SCHEMA = 1
COLUMNS = (
    "cloud", "instance_type", "vcpus", "memory_gib", "gpu", "gpu_count", "gpu_memory_mib",
    "arch", "region", "zone", "on_demand", "spot",
)


@dataclass(frozen=True, slots=True)
class InstancePrice:
    """One instance type in one region (or zone): hardware and $/hour, on-demand and spot.

    ``gpu`` is None for CPU-only types; a price is None where the source has none (e.g. a
    spot-only SKU). ``zone`` is set where the price is zone-specific.
    """

    cloud: str
    instance_type: str
    vcpus: float
    memory_gib: float
    gpu: str | None
    gpu_count: int
    gpu_memory_mib: int
    arch: str
    region: str
    zone: str | None
    on_demand: float | None
    spot: float | None

    def as_row(self) -> list[Any]:
        """The compact list form stored in price files (order of ``COLUMNS``)."""
        return [getattr(self, name) for name in COLUMNS]


@dataclass(frozen=True, slots=True)
class CloudStatus:
    """Where one cloud's prices came from this time, and why when it was not live."""

    source: Source
    as_of: str
    detail: str = ""


@dataclass(frozen=True, eq=False)
class PriceCatalog:
    """All offers plus provenance: ``source`` for the whole, ``clouds`` per cloud.

    Compared and hashed by identity, so the optimizer can cache one index per catalog.
    """

    rows: tuple[InstancePrice, ...]
    as_of: str
    source: Source
    clouds: dict[str, CloudStatus] = field(default_factory=dict)

    def for_cloud(self, cloud: str) -> list[InstancePrice]:
        """The rows of one cloud."""
        return [row for row in self.rows if row.cloud == cloud]

    def regions(self) -> dict[str, list[str]]:
        """Regions per cloud, sorted."""
        found: dict[str, set[str]] = {}
        for row in self.rows:
            found.setdefault(row.cloud, set()).add(row.region)
        return {cloud: sorted(regions) for cloud, regions in sorted(found.items())}


def overall_source(statuses: Iterable[CloudStatus]) -> Source:
    """"live" if every cloud is live, "snapshot" if none is, else "mixed"."""
    sources = {status.source for status in statuses}
    if sources == {"live"}:
        return "live"
    if sources <= {"snapshot"}:
        return "snapshot"
    return "mixed"


def catalog_to_document(catalog: PriceCatalog) -> dict[str, Any]:
    """The JSON document a price file holds."""
    return {
        "schema": SCHEMA,
        "as_of": catalog.as_of,
        "source": catalog.source,
        "clouds": {
            cloud: {"source": s.source, "as_of": s.as_of, "detail": s.detail}
            for cloud, s in catalog.clouds.items()
        },
        "columns": list(COLUMNS),
        "rows": [row.as_row() for row in catalog.rows],
    }


def catalog_from_document(document: dict[str, Any]) -> PriceCatalog:
    """Parse a price file; ``ValueError`` if it is of another schema."""
    if document.get("schema") != SCHEMA or document.get("columns") != list(COLUMNS):
        raise ValueError("price file has an unknown schema")
    rows = tuple(InstancePrice(*row) for row in document["rows"])
    clouds = {cloud: CloudStatus(**status) for cloud, status in document["clouds"].items()}
    return PriceCatalog(rows, document["as_of"], document["source"], clouds)


def write_price_file(catalog: PriceCatalog, path: Path) -> None:
    """Write ``catalog`` as gzip JSON, atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(catalog_to_document(catalog), separators=(",", ":")).encode()
    tmp = path.with_suffix(path.suffix + ".tmp")
    # mtime=0 keeps the packaged snapshot byte-identical across rebuilds.
    tmp.write_bytes(gzip.compress(payload, compresslevel=9, mtime=0))
    tmp.replace(path)


def read_price_file(path: Path) -> PriceCatalog:
    """Read a file written by :func:`write_price_file`."""
    return catalog_from_document(json.loads(gzip.decompress(path.read_bytes())))


@cache
def load_snapshot() -> PriceCatalog:
    """The packaged offline snapshot, parsed once per process."""
    blob = resources.files("flowllama.catalog").joinpath("data/prices.json.gz").read_bytes()
    return catalog_from_document(json.loads(gzip.decompress(blob)))


class LivePricesUnavailable(Exception):
    """A cloud's live price API could not be used (no SDK, no credentials, unreachable)."""
