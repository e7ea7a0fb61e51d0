"""Watching a deployment: its events as they happen until it reaches a status (with a Rich
spinner showing where it is), and following its log."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from rich.markup import escape

from flowllama.client.api import ApiClient, ApiError
from flowllama.client.output import console, when

POLL_S = 0.5
FOLLOW_POLL_S = 1.0
FOLLOW_TAIL = 200  # lines read per poll while following


def pause(seconds: float) -> None:
    """Wait between polls (the tests move the world forward here instead)."""
    time.sleep(seconds)


def event_line(event: dict[str, Any]) -> str:
    """One event as a line: time, transition, reason."""
    source = event.get("from_status") or "-"
    return f"{when(event['at'])}  {source} → {event['to_status']}  {event.get('reason') or ''}"


def wait_for(client: ApiClient, deployment_id: str, targets: set[str], *, show: bool,
             timeout_s: float, seen: int = 0) -> dict[str, Any]:
    """Poll the deployment until its status is in ``targets`` or ``failed`` (or it is gone,
    when ``deleted`` is a target), printing each event after the first ``seen`` when ``show``;
    its last view."""
    deadline = time.monotonic() + timeout_s
    spinner = console.status("waiting…") if show else nullcontext()
    with spinner as status:
        while True:
            seen += _print_events(client, deployment_id, seen, show)
            try:
                current: dict[str, Any] = client.get(f"/api/deployments/{deployment_id}")
            except ApiError as exc:
                if exc.status == 404 and "deleted" in targets:
                    return {"id": deployment_id, "status": "deleted"}
                raise
            if status is not None:
                status.update(f"[bold]{escape(current['name'])}[/]: {current['status']}")
            if current["status"] in targets or current["status"] == "failed":
                _print_events(client, deployment_id, seen, show)
                return current
            if time.monotonic() > deadline:
                raise ApiError(0, "timeout", f"{current['name']} is still {current['status']} "
                               f"after {timeout_s:.0f}s (it keeps going; see flowllama status)")
            pause(POLL_S)


def _print_events(client: ApiClient, deployment_id: str, seen: int, show: bool) -> int:
    try:
        events: list[dict[str, Any]] = client.get(
            f"/api/deployments/{deployment_id}/events", limit=200, offset=seen)
    except ApiError as exc:
        if exc.status == 404:  # deleted meanwhile: the caller finds out from the row
            return 0
        raise
    if show:
        for event in events:
            console.print(escape(event_line(event)))
    return len(events)


def event_count(client: ApiClient, deployment_id: str) -> int:
    """How many events the deployment has now (so a wait shows only later ones)."""
    count = 0
    while True:
        page = client.get(f"/api/deployments/{deployment_id}/events", limit=200, offset=count)
        count += len(page)
        if len(page) < 200:
            return count


def new_lines(previous: list[str], current: list[str]) -> list[str]:
    """The lines of ``current`` (a log tail) that follow what ``previous`` (the tail before)
    already showed: after the longest end of ``previous`` that ``current`` starts with."""
    for overlap in range(min(len(previous), len(current)), 0, -1):
        if previous[-overlap:] == current[:overlap]:
            return current[overlap:]
    return current


def follow_logs(client: ApiClient, deployment_id: str, emit: Callable[[str], None],
                first: list[str]) -> None:
    """Print new log lines as they come (after ``first``, already printed) until the
    deployment is gone or the user presses Ctrl-C."""
    previous = first[-FOLLOW_TAIL:]
    while True:
        pause(FOLLOW_POLL_S)
        try:
            logs = client.get(f"/api/deployments/{deployment_id}/logs", tail=FOLLOW_TAIL)
        except ApiError as exc:
            if exc.status == 404:
                return
            raise
        for line in new_lines(previous, logs["lines"]):
            emit(line)
        previous = logs["lines"]
