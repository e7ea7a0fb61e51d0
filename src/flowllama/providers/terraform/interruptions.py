"""Telling a reclaimed spot server from a crashed one, where the cloud says so (AWS only).

Terraform's state cannot tell why a server is gone: the aws-ollama stack's data source lists only
pending and running instances, so a spot interruption and a crash both read as "no instance".
EC2 keeps a terminated instance visible for a while with the reason it ended, and a spot
request's status says whether EC2 interrupted it. :class:`AwsSpotInterruptions` asks EC2 about
the server's instances (the id recorded in the handle, and every instance tagged ``Name =
<handle name>``, which the stack's launch template puts on each instance the group launches):

* an instance ``shutting-down``/``terminated``/``stopping``/``stopped`` whose ``StateReason``
  code is ``Server.SpotInstanceTermination`` or ``Server.SpotInstanceShutdown``, or
* an instance whose spot request's status code is an interruption (``instance-terminated-by-
  price``, ``…-no-capacity``, ``…-capacity-oversubscribed``, their ``instance-stopped-…``
  forms) or an interruption notice (``marked-for-termination``, ``marked-for-stop``)

is reclaimed, also when the auto-scaling group has already launched a replacement: that one runs
on the same spot market that just took its predecessor back, with a new address, and the agent
would rather move the server to the next offer (the reclaimed offer is excluded for a while).
EC2 forgets a terminated instance about an hour after it ended, and every server (slot) has its
own ``Name``, so only this server's recent interruptions count.

GCP is not checked: there the managed instance group recreates a preempted instance under the
same name, and FlowLlama tells preemption from a crash only by the instance disappearing.

The check talks to EC2 the way the Terraform AWS provider does: the same ``ec2`` endpoint from
the operator's provider settings (``terraform.provider_settings.aws.endpoints``) and profile,
credentials from the standard chain. It never raises: an error talking to the cloud is "not
reclaimed" with a detail that says why. boto3 (the ``aws`` extra) is imported only when a check
runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog

from flowllama.providers.base import Handle

log = structlog.get_logger(__name__)

# EC2 StateReason codes for an instance that EC2 interrupted (terminated or stopped).
SPOT_STATE_REASONS = frozenset({"Server.SpotInstanceTermination", "Server.SpotInstanceShutdown"})
# Spot request status codes for an interruption, or its two-minute notice.
SPOT_REQUEST_CODES = frozenset({
    "instance-terminated-by-price",
    "instance-terminated-no-capacity",
    "instance-terminated-capacity-oversubscribed",
    "instance-stopped-by-price",
    "instance-stopped-no-capacity",
    "instance-stopped-capacity-oversubscribed",
    "marked-for-termination",
    "marked-for-stop",
})
ENDED_STATES = frozenset({"shutting-down", "terminated", "stopping", "stopped"})
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Interruption:
    """The verdict on one server: ``reclaimed`` by the cloud, and the evidence (or why not)."""

    reclaimed: bool
    detail: str


class InterruptionCheck(Protocol):
    """What :class:`~.provisioner.TerraformProvisioner` asks after reading a server's state.

    Returns ``None`` when the handle's placement is not one it checks (another cloud, or not
    spot), else the verdict. Never raises.
    """

    def __call__(self, handle: Handle, instance_ids: Iterable[str] = ()) -> Interruption | None:
        """Whether the cloud reclaimed the server behind ``handle`` (``instance_ids``: known
        ids of its instances besides the one the handle recorded)."""


ClientFactory = Callable[[str], Any]
"""``region -> boto3 EC2 client``."""


class AwsSpotInterruptions:
    """:class:`InterruptionCheck` for spot servers on ``aws`` (see the module docstring).

    ``provider_settings`` are the operator's arguments for the ``aws`` provider block; only the
    ``ec2`` endpoint and ``profile`` are used. ``client_factory`` replaces how clients are made.
    """

    def __init__(self, provider_settings: Mapping[str, Any] | None = None, *,
                 client_factory: ClientFactory | None = None,
                 timeout_s: float = TIMEOUT_S) -> None:
        settings = dict(provider_settings or {})
        self.endpoint = ec2_endpoint(settings)
        self.profile = settings.get("profile")
        self.timeout_s = timeout_s
        self._client_factory = client_factory or self._boto3_client

    def __call__(self, handle: Handle, instance_ids: Iterable[str] = ()) -> Interruption | None:
        """The verdict for an aws spot server, ``None`` for anything else; never raises."""
        placement = (handle.data.get("meta") or {}).get("placement") or {}
        if placement.get("cloud") != "aws" or not placement.get("spot"):
            return None
        region = str(placement.get("region") or "")
        recorded = (handle.data.get("outputs") or {}).get("instance_id")
        ids = sorted({str(i) for i in [recorded, *instance_ids] if i})
        try:
            client = self._client_factory(region)
            return verdict(client, handle.name, ids)
        except Exception as exc:  # any failure to ask the cloud means "not known"
            # Why broad: botocore's errors, a missing boto3 and a malformed answer all mean the
            # same here, and the caller (a heal) must go on with "crashed" either way.
            log.warning("spot.check_failed", server=handle.name, error=str(exc))
            return Interruption(False, f"spot interruption check failed: {_short(exc)}")

    def _boto3_client(self, region: str) -> Any:
        import boto3  # the aws extra: only when an aws spot server is checked
        from botocore.config import Config

        session = boto3.session.Session(profile_name=self.profile) if self.profile else boto3
        config = Config(connect_timeout=self.timeout_s, read_timeout=self.timeout_s,
                        retries={"max_attempts": 2, "mode": "standard"})
        return session.client("ec2", region_name=region or None, endpoint_url=self.endpoint,
                              config=config)


def ec2_endpoint(settings: Mapping[str, Any]) -> str | None:
    """The ``ec2`` endpoint in the aws provider's ``endpoints`` (a block list, as rendered for
    provider 3.x, or one mapping), or ``None`` for AWS's own."""
    endpoints = settings.get("endpoints")
    blocks = endpoints if isinstance(endpoints, list) else [endpoints]
    for block in blocks:
        if isinstance(block, Mapping) and block.get("ec2"):
            return str(block["ec2"])
    return None


def verdict(client: Any, name: str, instance_ids: list[str]) -> Interruption:
    """Ask EC2 about the instances named ``name`` or with one of ``instance_ids``."""
    instances = _instances(client, name, instance_ids)
    if not instances:
        return Interruption(False, f"no EC2 instance named {name} (or {instance_ids}) is known "
                                   "to EC2 any more: cannot tell a reclaim from a crash")
    requests = _request_codes(client, instances)
    for instance in sorted(instances, key=_launched, reverse=True):
        reason = _reclaim_reason(instance, requests)
        if reason is not None:
            return Interruption(True, f"EC2 instance {instance['InstanceId']} reclaimed by AWS "
                                      f"({reason})")
    summary = ", ".join(f"{i['InstanceId']} {_state(i)}"
                        f"{' (' + _code(i) + ')' if _code(i) else ''}" for i in instances)
    return Interruption(False, f"no spot interruption: {summary}")


def _instances(client: Any, name: str, instance_ids: list[str]) -> list[dict[str, Any]]:
    """Instances by Name tag and by id, deduplicated (filters, not ids: a forgotten id is no
    error)."""
    queries = [[{"Name": "tag:Name", "Values": [name]}]]
    if instance_ids:
        queries.append([{"Name": "instance-id", "Values": instance_ids}])
    found: dict[str, dict[str, Any]] = {}
    for filters in queries:
        for page in client.get_paginator("describe_instances").paginate(Filters=filters):
            for reservation in page.get("Reservations", []):
                for instance in reservation.get("Instances", []):
                    found[instance["InstanceId"]] = instance
    return list(found.values())


def _request_codes(client: Any, instances: list[dict[str, Any]]) -> dict[str, str]:
    """The status code of each instance's spot request, by request id."""
    request_ids = sorted({i["SpotInstanceRequestId"] for i in instances
                          if i.get("SpotInstanceRequestId")})
    if not request_ids:
        return {}
    answer = client.describe_spot_instance_requests(
        Filters=[{"Name": "spot-instance-request-id", "Values": request_ids}])
    return {r["SpotInstanceRequestId"]: str((r.get("Status") or {}).get("Code") or "")
            for r in answer.get("SpotInstanceRequests", [])}


def _reclaim_reason(instance: Mapping[str, Any], requests: Mapping[str, str]) -> str | None:
    """The evidence that EC2 interrupted ``instance``, or ``None``."""
    if _state(instance) in ENDED_STATES and _code(instance) in SPOT_STATE_REASONS:
        return _code(instance)
    request_code = requests.get(str(instance.get("SpotInstanceRequestId") or ""))
    if request_code in SPOT_REQUEST_CODES:
        return f"spot request {instance['SpotInstanceRequestId']}: {request_code}"
    return None


def _state(instance: Mapping[str, Any]) -> str:
    return str((instance.get("State") or {}).get("Name") or "")


def _code(instance: Mapping[str, Any]) -> str:
    return str((instance.get("StateReason") or {}).get("Code") or "")


def _launched(instance: Mapping[str, Any]) -> datetime:
    launched = instance.get("LaunchTime")
    return launched if isinstance(launched, datetime) else datetime.min.replace(tzinfo=UTC)


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
