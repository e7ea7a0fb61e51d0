"""Turn a failed Terraform command into the error the agent acts on.

Capacity and quota refusals (the cloud has no room for this offer) become ``NoCapacity`` so the
agent tries the next offer; everything else is ``ProvisioningFailed``. The message is Terraform's
own error text (diagnostics from ``-json`` output when present), trimmed to a readable size.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flowllama.errors import NoCapacity, ProviderError, ProvisioningFailed
from flowllama.providers.terraform.engine import EngineResult

MAX_MESSAGE_CHARS = 4000

# Codes and phrases that AWS and GCP use when a region/zone/account cannot take the instance.
CAPACITY_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"Insufficient\w*Capacity",  # InsufficientInstanceCapacity, InsufficientHostCapacity
        r"ZONE_RESOURCE_POOL_EXHAUSTED\w*",
        r"\bQUOTA_EXCEEDED\b",
        r"\bquota\b[^\n]{0,80}\bexceeded\b",  # "Quota 'NVIDIA_L4_GPUS' exceeded"
        r"\bexceeded\b[^\n]{0,40}\bquota\b",
        r"VcpuLimitExceeded|InstanceLimitExceeded|MaxSpotInstanceCountExceeded",
        r"SpotMaxPriceTooLow|capacity-not-available|capacity-oversubscribed",
        r"UnfulfillableCapacity|Unsupported: Your requested instance type",
        r"does not have enough resources available to fulfill the request",
        r"\bstockout\b",
    )
)

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class CommandFailed(Exception):
    """A Terraform command exited with an error (internal; mapped by :func:`to_provider_error`)."""

    def __init__(self, result: EngineResult) -> None:
        self.result = result
        self.text = error_text(result)
        super().__init__(f"terraform {result.args[0]} failed: {self.text}")


def error_text(result: EngineResult) -> str:
    """Terraform's error messages from a command's output, most useful form first."""
    diagnostics = [_diagnostic(event) for event in json_events(result.stdout)]
    messages = [message for message in diagnostics if message]
    text = "\n".join(messages) if messages else (result.stderr.strip() or result.stdout.strip())
    if result.timed_out and messages:  # the timeout note is on stderr only
        text = f"{text}\n{result.stderr.strip().splitlines()[-1]}"
    return _trim(_ANSI.sub("", text))


def capacity_code(text: str) -> str | None:
    """The capacity/quota phrase in ``text``, or ``None`` if it is another kind of failure."""
    for pattern in CAPACITY_PATTERNS:
        match = pattern.search(text)
        if match:
            return match.group(0)
    return None


def to_provider_error(text: str, *, prefix: str = "") -> ProviderError:
    """``NoCapacity`` for capacity/quota errors, else ``ProvisioningFailed``."""
    message = f"{prefix}{text}" if prefix else text
    if capacity_code(text) is not None:
        return NoCapacity(message)
    return ProvisioningFailed(message)


def json_events(stdout: str) -> list[dict[str, Any]]:
    """The JSON objects of a ``-json`` command's output, one per line; other lines skipped."""
    events = []
    for line in stdout.splitlines():
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def _diagnostic(event: dict[str, Any]) -> str:
    if event.get("@level") != "error":
        return ""
    diagnostic = event.get("diagnostic") or {}
    parts = [str(diagnostic.get(key) or "").strip() for key in ("summary", "detail")]
    return ": ".join(part for part in parts if part) or str(event.get("@message") or "")


def _trim(text: str) -> str:
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    half = MAX_MESSAGE_CHARS // 2
    return f"{text[:half]}\n...\n{text[-half:]}"
