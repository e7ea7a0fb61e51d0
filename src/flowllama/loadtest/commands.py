"""``flowllama loadtest run``: a headless Locust run against a deployment, stored as a run.

Exit codes: 0 stored (failed requests are results, not errors), 1 the run itself failed (the
worker died), 2 bad options. The Helm CronJob calls exactly this command.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from flowllama.errors import ClientError, ConfigError
from flowllama.loadtest.config import (
    LoadtestConfig,
    parse_duration,
    parse_weights,
    read_prompts,
)

loadtest_app = typer.Typer(no_args_is_help=True, help="Load tests: latency, tokens/s, $/1M tokens")
console = Console()
err = Console(stderr=True)

Text = Annotated[str | None, typer.Option()]


@loadtest_app.command("run")
def run(  # noqa: PLR0917  (Typer maps each option to a parameter)
    deployment: Annotated[str | None, typer.Option(
        help="Deployment name: URLs, model and $/h from the API (needs --api-url, login)")] = None,
    api_url: Annotated[str | None, typer.Option(help="Backend base URL")] = None,
    ollama_url: Annotated[str | None, typer.Option(
        help="Ollama passthrough base (…/ollama/<deployment>)")] = None,
    token_api_url: Annotated[str | None, typer.Option(
        help="OpenAI-compatible base, e.g. https://host/v1")] = None,
    model: Annotated[str | None, typer.Option(help="Model name sent to /v1")] = None,
    api_key: Annotated[str | None, typer.Option(
        envvar="FLOWLLAMA_LOADTEST_API_KEY", show_envvar=True, help="API key")] = None,
    email: Annotated[str | None, typer.Option(help="Backend test account")] = None,
    password: Annotated[str | None, typer.Option(
        envvar="FLOWLLAMA_LOADTEST_PASSWORD", show_envvar=True, help="Its password")] = None,
    duration: Annotated[str, typer.Option(help="e.g. 20s, 5m (at most 1h)")] = "5m",
    users: Annotated[int, typer.Option(help="Concurrent users (at most 64)")] = 4,
    spawn_rate: Annotated[float, typer.Option(help="Users started per second")] = 1,
    weights: Annotated[str, typer.Option(help="backend=N,ollama=N,tokenapi=N")] = "",
    prompts: Annotated[Path | None, typer.Option(help="File: one prompt per line")] = None,
    max_tokens: Annotated[int, typer.Option(help="Output tokens per LLM request")] = 64,
    ttft_target_ms: Annotated[float, typer.Option(help="Goodput: TTFT at most")] = 2000,
    tpot_target_ms: Annotated[float, typer.Option(help="Goodput: TPOT at most")] = 200,
    price_per_hour: Annotated[float | None, typer.Option(
        help="$/h of the target (else the deployment's billed placement)")] = None,
    price_source: Annotated[str | None, typer.Option(help="Where that price comes from")] = None,
    results: Annotated[str | None, typer.Option(
        help="file:///dir or s3://bucket/prefix (default file://<data_dir>/loadtests)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
) -> None:
    """Run a headless load test for DURATION, print a summary, store the run."""
    from flowllama.loadtest.runner import LoadtestFailed, run_loadtest
    from flowllama.loadtest.store import StoreUnavailable, open_store
    from flowllama.loadtest.target import resolve_deployment

    try:
        config = LoadtestConfig(
            target_name=deployment or model or _host(token_api_url or ollama_url or api_url),
            api_url=api_url, ollama_url=ollama_url, token_api_url=token_api_url, model=model,
            api_key=api_key, email=email, password=password,
            duration_s=parse_duration(duration), users=users, spawn_rate=spawn_rate,
            weights=parse_weights(weights), max_tokens=max_tokens,
            ttft_target_ms=ttft_target_ms, tpot_target_ms=tpot_target_ms,
            price_per_hour=price_per_hour,
            price_source=price_source or ("--price-per-hour" if price_per_hour is not None
                                          else None))
        if prompts is not None:
            config.prompts = read_prompts(prompts)
        if deployment:
            config = resolve_deployment(config, deployment)
        config.validate()
        store = open_store(results or f"file://{_data_dir() / 'loadtests'}")
        with _sigterm_unwinds():
            summary = _run_with_progress(config, store, run_loadtest, quiet=as_json)
    except (ClientError, ConfigError) as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    except (LoadtestFailed, StoreUnavailable) as exc:
        err.print(f"[red]The load test failed:[/] {exc}")
        raise typer.Exit(1) from exc
    if as_json:
        console.print_json(json.dumps(summary))
    else:
        print_summary(summary, store.url)


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """A CronJob's deadline or ``kill`` sends SIGTERM: unwind as for Ctrl-C, so the worker is
    stopped, its temporary files removed and nothing stored."""

    def unwind(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, unwind)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _host(url: str | None) -> str:
    return (urlsplit(url).hostname or "target") if url else "target"


def _data_dir() -> Path:
    from flowllama.settings import Settings

    return Settings().data_dir


def _run_with_progress(config: LoadtestConfig, store: Any, run: Any, *, quiet: bool
                       ) -> dict[str, Any]:
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[line]}"),
                  TimeRemainingColumn(), console=err, disable=quiet) as bar:
        task = bar.add_task(f"load test {config.target_name}", total=config.duration_s,
                            line="starting")

        def show(event: dict[str, Any]) -> None:
            line = (f"{event['users']} users, {event['requests']} req, {event['failures']} "
                    f"failed, {event['rps']} req/s, {event['output_tokens']} tokens")
            bar.update(task, completed=event["elapsed_s"], line=line)

        summary: dict[str, Any] = run(config, store, show)
        return summary


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:,.1f}{unit}" if isinstance(value, float) else f"{value}{unit}"


def print_summary(summary: dict[str, Any], store_url: str) -> None:
    """The per-endpoint table and the totals line, as a person reads them."""
    table = Table(title=f"Load test {summary['target']['name']} ({summary['run_id']})")
    table.add_column("endpoint", no_wrap=True)
    for column in ("req", "fail", "req/s", "p50 ms", "p95 ms", "p99 ms", "TTFT p50",
                   "ITL p50", "TPOT p50", "tok/s", "goodput"):
        table.add_column(column, justify="right")
    for e in summary["endpoints"]:
        llm = e["llm"]
        table.add_row(
            e["name"], str(e["requests"]), str(e["failures"]), _fmt(e["rps"]),
            _fmt(e["latency_ms"]["p50"]), _fmt(e["latency_ms"]["p95"]),
            _fmt(e["latency_ms"]["p99"]),
            *((_fmt(e[k]["p50"]) for k in ("ttft_ms", "itl_ms", "tpot_ms")) if llm
              else ("",) * 3),
            _fmt(e["output_tokens_per_s"]) if llm else "",
            _fmt(e["goodput_ratio"] * 100 if e["goodput_ratio"] is not None else None, "%")
            if llm else "")
    console.print(table)
    totals, price = summary["totals"], summary["price"]
    cost = totals["usd_per_million_output_tokens"]
    cost_text = ("free" if cost == 0 else "-" if cost is None else f"${cost:,.2f}")
    console.print(
        f"{totals['requests']} requests, {totals['failures']} failed "
        f"({_fmt((totals['error_rate'] or 0) * 100, '%')}); "
        f"{totals['output_tokens']} output tokens, {_fmt(totals['output_tokens_per_s'])} tok/s; "
        f"$/1M output tokens: {cost_text} "
        f"(at {_fmt(price['usd_per_hour'])} $/h, {price['source'] or 'price unknown'})")
    console.print(f"Stored in {store_url}")
