"""Render an estimate for the terminal: AWS vs GCP, hourly and monthly, as a Rich table."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

GIB = 1024**3


def _offer_row(label: str, offer: dict[str, Any] | None) -> list[str]:
    if offer is None:
        return [label, "-", "-", "-", "-", "-", "no offer"]
    gpu = f"{offer['gpu_count']}x{offer['gpu']}" if offer.get("gpu") else "CPU"
    return [
        label, offer["instance_type"], offer.get("zone") or offer["region"], gpu,
        "spot" if offer["spot"] else "on-demand", f"${offer['price_per_hour']:.4f}",
        f"${offer['price_per_month']:,.2f}",
    ]


def render_estimate(console: Console, result: dict[str, Any]) -> None:
    """Print the requirement, the best offer per cloud and the next candidates."""
    needs = result["requirements"]
    console.print(
        f"[bold]{result['model']}[/] @ {result['context_size']:,} ctx x{result['parallel']}: "
        f"needs {needs['total_bytes'] / GIB:.1f} GiB "
        f"(min VRAM {needs['min_vram_bytes'] / GIB:.1f} GiB, CPU RAM "
        f"{needs['min_ram_bytes'] / GIB:.1f} GiB)"
    )
    table = Table(title="Cheapest fit per cloud (monthly = 730 h + disk + egress)")
    for column in ("", "instance", "where", "GPU", "market", "$/h", "$/month"):
        table.add_column(column, justify="right" if column.startswith("$") else "left")
    for cloud in ("aws", "gcp"):
        if cloud in result["by_cloud"]:
            table.add_row(*_offer_row(cloud.upper(), result["by_cloud"][cloud]))
    for index, offer in enumerate(result["candidates"][1:5], start=2):
        table.add_row(*_offer_row(f"#{index}", offer), style="dim")
    console.print(table)
    if result.get("reason"):
        console.print(f"[yellow]{result['reason']}[/]")
    else:
        console.print(result["rationale"])
    console.print(f"[dim]prices: {result['source']} as of {result['as_of']}[/]")
