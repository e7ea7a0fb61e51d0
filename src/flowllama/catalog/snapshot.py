"""Build the packaged price snapshot from the CSVs in ``shared/data``.

Run ``python -m flowllama.catalog.snapshot /path/to/shared/data`` and commit the resulting
``src/flowllama/catalog/data/prices.json.gz``. Kept: every AWS row (GPU and CPU families), GCP's
GPU series (A2, A3, G2) and a set of general-purpose CPU series, and N1 VMs with attached GPUs
(VM price + GPU price, per zone, within Google's vCPU limits per GPU count).
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Iterator
from pathlib import Path

from flowllama.catalog.prices import CloudStatus, InstancePrice, PriceCatalog, write_price_file

AS_OF = "2026-07-30"
"""Date of the newest source: the GCP price file header (AWS: SkyPilot catalog v9, same commit)."""
GCP_SERIES = frozenset({"a2", "a3", "g2", "n1", "n2", "n2d", "e2", "c3", "n4"})
# Largest N1 VM (vCPUs) Google allows per attached GPU model and count.
N1_GPU_VCPU_LIMITS: dict[str, dict[int, int]] = {
    "T4": {1: 48, 2: 48, 4: 96},
    "V100": {1: 12, 2: 24, 4: 48, 8: 96},
    "P100": {1: 16, 2: 32, 4: 64},
    "P4": {1: 24, 2: 48, 4: 96},
}
N1_GPU_HOSTS = ("n1-standard", "n1-highmem")
DEFAULT_OUTPUT = Path(__file__).parent / "data" / "prices.json.gz"


def _price(text: str) -> float | None:
    return round(float(text), 6) if text.strip() else None


def aws_rows(path: Path) -> Iterator[InstancePrice]:
    """Every row of ``aws_instances.csv`` (one per availability zone)."""
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            count = int(float(row["accelerator_count"] or 0))
            total = int(row["gpu_memory_mib_total"] or 0)
            yield InstancePrice(
                "aws", row["instance_type"], float(row["vcpus"]), float(row["memory_gib"]),
                row["accelerator_name"] or None, count, total // count if count else 0,
                row["arch"] or "x86_64", row["region"], row["availability_zone"] or None,
                _price(row["price_per_hour_usd"]), _price(row["spot_price_per_hour_usd"]),
            )


def _gcp_row(row: dict[str, str]) -> InstancePrice | None:
    gpu = row["accelerator_name"] or None
    count_text = row["accelerator_count"] or "0"
    if gpu and (not row["gpu_memory_gib_per_gpu"] or "." in count_text):
        return None  # GPU memory unknown (RTX PRO 6000) or a fractional GPU: cannot size
    arch = "arm64" if row["series"] in {"c4a", "t2a", "n4a"} else "x86_64"
    return InstancePrice(
        "gcp", row["instance_type"], float(row["vcpus"]), float(row["memory_gib"]), gpu,
        int(count_text), int(float(row["gpu_memory_gib_per_gpu"] or 0) * 1024), arch,
        row["region"], None, _price(row["price_per_hour_usd"]),
        _price(row["spot_price_per_hour_usd"]),
    )


def gcp_rows(path: Path) -> list[InstancePrice]:
    """Rows of ``gcp_instances.csv`` in the kept series."""
    with path.open(newline="") as handle:
        rows = (_gcp_row(row) for row in csv.DictReader(handle) if row["series"] in GCP_SERIES)
        return [row for row in rows if row is not None]


def _sum(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a + b, 6)


def n1_gpu_rows(vms: list[InstancePrice], accelerators: Path) -> Iterator[InstancePrice]:
    """N1 VMs with attached GPUs: one offer per zone, priced VM + GPUs."""
    hosts: dict[str, list[InstancePrice]] = {}
    for vm in vms:
        if vm.instance_type.startswith(N1_GPU_HOSTS) and vm.gpu is None:
            hosts.setdefault(vm.region, []).append(vm)
    with accelerators.open(newline="") as handle:
        for acc in csv.DictReader(handle):
            count = int(acc["accelerator_count"])
            limit = N1_GPU_VCPU_LIMITS.get(acc["accelerator_name"], {}).get(count)
            if limit is None:
                continue
            for vm in hosts.get(acc["region"], []):
                if vm.vcpus > limit or vm.vcpus < 4:
                    continue
                yield InstancePrice(
                    "gcp", vm.instance_type, vm.vcpus, vm.memory_gib, acc["accelerator_name"],
                    count, int(acc["gpu_memory_mib_per_gpu"]), vm.arch, vm.region,
                    acc["availability_zone"],
                    _sum(vm.on_demand, _price(acc["price_per_hour_usd"])),
                    _sum(vm.spot, _price(acc["spot_price_per_hour_usd"])),
                )


def build_snapshot(data_dir: Path) -> PriceCatalog:
    """The snapshot catalog built from the three price CSVs in ``data_dir``."""
    gcp = gcp_rows(data_dir / "gcp_instances.csv")
    rows = [
        *aws_rows(data_dir / "aws_instances.csv"),
        *gcp,
        *n1_gpu_rows(gcp, data_dir / "gcp_accelerators.csv"),
    ]
    detail = "offline snapshot of shared/data (see docs/pricing.md)"
    clouds = {cloud: CloudStatus("snapshot", AS_OF, detail) for cloud in ("aws", "gcp")}
    return PriceCatalog(tuple(rows), AS_OF, "snapshot", clouds)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: build the snapshot and write it (default: the packaged path)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("data_dir", type=Path, help="folder with aws_instances.csv etc.")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    catalog = build_snapshot(args.data_dir)
    write_price_file(catalog, args.output)
    size = args.output.stat().st_size
    print(f"wrote {len(catalog.rows)} offers to {args.output} ({size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
