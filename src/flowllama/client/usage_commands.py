"""``flowllama usage``: tokens and their cost, by day, key or deployment."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from flowllama.client.output import JsonOpt, UrlOpt, api_session, console, emit_json, money, table


def usage(
    by: Annotated[str, typer.Option("--by", help="Group by day | key | deployment")] = "day",
    since: Annotated[str | None, typer.Option(
        "--from", help="First day, YYYY-MM-DD (default: this month's first)")] = None,
    until: Annotated[str | None, typer.Option(
        "--to", help="Last day, YYYY-MM-DD (default: today)")] = None,
    url: UrlOpt = None, as_json: JsonOpt = False,
) -> None:
    """Your token usage and its cost through the token API."""
    with api_session(url, as_json) as client:
        report: dict[str, Any] = client.get("/api/usage", group_by=by, **{
            "from": since, "to": until})
    if as_json:
        emit_json(report)
        return
    total = report["total"]
    rows = [_row(item["label"], item) for item in report["items"]]
    rows.append(_row("total", total))
    table([by.upper(), "REQUESTS", "PROMPT", "COMPLETION", "TOKENS", "COST", "$/1M"], rows,
          title=f"Usage {report['from']} to {report['to']}")
    if not report["items"]:
        console.print(f"No token API requests between {report['from']} and {report['to']}"
                      f" (today is {date.today().isoformat()}).")


def _row(label: str, figures: dict[str, Any]) -> tuple[Any, ...]:
    return (label, figures["requests"], figures["prompt_tokens"], figures["completion_tokens"],
            figures["total_tokens"], money(figures["cost_usd"]),
            money(figures.get("usd_per_million_tokens"), 2))
