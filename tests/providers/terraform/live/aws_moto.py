"""What the live AWS tests share: an offline provider mirror for Terraform, a moto server, the
provider settings that point the real ``hashicorp/aws`` provider at it, and an EC2 proxy that
refuses capacity like AWS does.

Test-only: production never sees any of this; the provider settings reach FlowLlama the way an
operator's would (``FLOWLLAMA_TERRAFORM__PROVIDER_SETTINGS`` / ``provider_settings=``).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from flowllama.devtools.terraform_mirror import ensure_mirror
from flowllama.devtools.tools_cache import ToolUnavailable
from flowllama.providers.terraform import BackendConfig, TerraformOptions
from flowllama.providers.terraform.foundation import Foundations
from tiny_model import free_port

MOTO_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                    "AWS_DEFAULT_REGION": "us-east-1"}
# A placeholder checksum: moto never runs the boot script, and the script is not under test here.
TEST_OLLAMA_SHA256 = "0" * 64


def terraform_cli_config() -> Path:
    """The Terraform CLI config of the offline provider mirror (hashicorp/aws 3.39); skips the
    test where the mirror cannot be built (no package index, not linux/amd64)."""
    try:
        return ensure_mirror().cli_config
    except ToolUnavailable as exc:
        pytest.skip(f"no offline Terraform provider mirror: {exc}")


def provider_settings(endpoint: str) -> dict[str, dict[str, Any]]:
    """The aws provider arguments that send every API call to moto (3.39 names)."""
    services = ("ec2", "autoscaling", "iam", "sts", "s3", "elb", "cloudwatchlogs", "kms", "ssm")
    return {"aws": {
        "s3_force_path_style": True,
        "skip_credentials_validation": True,
        "skip_metadata_api_check": True,
        "skip_requesting_account_id": True,
        "skip_get_ec2_platforms": True,
        "skip_region_validation": True,
        "endpoints": [{service: endpoint for service in services}],
    }}


@dataclass
class CapacityProxy:
    """Forwards to moto; refuses the next ``refusals`` EC2 requests that name one of
    ``instance_types`` with AWS's own ``InsufficientInstanceCapacity`` error.

    moto has capacity for everything, so this is how a test gets the refusal AWS gives when a
    zone has no room for a type. (AWS reports it when the instance launches; here it comes at
    the launch template's creation, the first EC2 call that names the type, which fails the
    apply the same way.)
    """

    upstream: str
    url: str = ""
    instance_types: set[str] = field(default_factory=set)
    refusals: int = 0
    refused: list[str] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    denied: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, method: str, path: str, action: str | None = None) -> None:
        """Every request that passes (method, path): the S3 backend's lock calls, for one; and
        the IAM action of each query or JSON API call (``ec2:RunInstances``)."""
        with self.lock:
            self.requests.append((method, path))
            if action is not None:
                self.actions.append(action)

    def deny(self, action: str | None) -> None:
        """An action moto refused (403: not authorised, when it enforces IAM)."""
        with self.lock:
            self.denied.append(action or "?")

    def refuse(self, body: bytes) -> str | None:
        form = parse_qs(body.decode("utf-8", "replace"))
        named = {value for key, values in form.items() if key.endswith("InstanceType")
                 for value in values}
        with self.lock:
            hit = next(iter(named & self.instance_types), None)
            if hit is None or self.refusals <= 0:
                return None
            self.refusals -= 1
            self.refused.append(hit)
            return hit


def _proxy_handler(proxy: CapacityProxy) -> type[BaseHTTPRequestHandler]:
    client = httpx.Client(timeout=60)

    class Handler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            proxy.record(self.command, self.path, _action(self.headers, body))
            refused = proxy.refuse(body) if self.command == "POST" else None
            if refused is not None:
                self._send(400, _capacity_error(refused), "text/xml")
                return
            # The Host stays the proxy's: the request is signed with it (moto checks signatures
            # when it enforces IAM).
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("content-length", "connection")}
            reply = client.request(self.command, proxy.upstream + self.path, content=body,
                                   headers=headers)
            if reply.status_code == 403:
                proxy.deny(_action(self.headers, body))
            self._send(reply.status_code, reply.content,
                       reply.headers.get("content-type", "text/xml"))

        def _send(self, code: int, body: bytes, kind: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def _action(headers: Any, body: bytes) -> str | None:
    """The IAM action a signed query-protocol (``Action=``) or JSON-protocol (``X-Amz-Target``)
    request calls, as ``<signing service>:<operation>``; None for REST calls (S3)."""
    scope = str(headers.get("Authorization") or "").partition("Credential=")[2].split("/")
    target = headers.get("X-Amz-Target")
    operation = (target.rsplit(".", 1)[-1] if target
                 else next(iter(parse_qs(body.decode("utf-8", "replace")).get("Action", [])),
                           None))
    if len(scope) < 4 or not operation:
        return None
    return f"{scope[3]}:{operation}"


def _capacity_error(instance_type: str) -> bytes:
    message = (f"We currently do not have sufficient {instance_type} capacity in the "
               "Availability Zone you requested. Our system will be working on provisioning "
               "additional capacity.")
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error>"
            f"<Code>InsufficientInstanceCapacity</Code><Message>{message}</Message>"
            "</Error></Errors><RequestID>capacity-proxy</RequestID></Response>").encode()


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` served on a free 127.0.0.1 port in a thread; its URL. Stopped on exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def capacity_proxy(upstream: str) -> Iterator[CapacityProxy]:
    proxy = CapacityProxy(upstream)
    with serving(_proxy_handler(proxy)) as url:
        proxy.url = url
        yield proxy


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on a free 127.0.0.1 port; its URL."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                "-p", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/moto-api/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError("moto server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def enforce_iam(url: str, enforced: bool) -> None:
    """Switch the moto server at ``url`` between authorising every call against the caller's
    IAM policies and authorising none (its default), through moto's ``/moto-api/reset-auth``: it
    sets ``INITIAL_NO_AUTH_ACTION_COUNT`` at run time (0: every call from the next on)."""
    reply = httpx.post(f"{url}/moto-api/reset-auth", content=b"0" if enforced else b"inf",
                       timeout=10)
    reply.raise_for_status()


REGION = "us-east-1"
LIVE = TerraformOptions(state_lock_timeout_s=0, workspace_wait_s=120, command_timeout_s=600)


@dataclass(frozen=True)
class Moto:
    """The moto server, the capacity proxy in front of it, and the environment for Terraform."""

    url: str
    proxy: CapacityProxy
    env: dict[str, str]

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.url, region_name=REGION,
                            aws_access_key_id="test", aws_secret_access_key="test")

    @property
    def provider_settings(self) -> dict[str, dict[str, Any]]:
        """Terraform talks to moto through the capacity proxy."""
        return provider_settings(self.proxy.url)

    def image_id(self) -> str:
        images = self.client("ec2").describe_images(Owners=["amazon"])["Images"]
        return str(sorted(image["ImageId"] for image in images)[0])


@dataclass(frozen=True)
class Foundation:
    foundations: Foundations
    outputs: dict[str, Any]
    backend: BackendConfig



def tagged(moto: Moto, key: str, value: str) -> list[str]:
    """Every live resource moto holds with tag ``key=value``, as ``kind:id``: EC2 (VPCs, subnets,
    security groups, launch templates, NAT and internet gateways, EIPs, flow logs, instances),
    Auto Scaling groups, load balancers and target groups, S3 buckets, IAM roles, instance
    profiles and policies, and CloudWatch Logs groups.

    Tags are matched here rather than by describe filters, which moto does not apply to every
    resource type (NAT gateways, for one).
    """
    wanted = (key, value)
    return [*_ec2_tagged(moto, wanted), *_elb_tagged(moto, wanted), *_s3_tagged(moto, wanted),
            *_iam_tagged(moto, wanted), *_logs_tagged(moto, wanted)]


def _has_tag(tags: Any, wanted: tuple[str, str]) -> bool:
    """``tags`` as AWS returns them (a list of Key/Value, or a dict) holds ``wanted``."""
    if isinstance(tags, dict):
        return tags.get(wanted[0]) == wanted[1]
    return any((t.get("Key"), t.get("Value")) == wanted for t in tags or [])


def _ec2_tagged(moto: Moto, wanted: tuple[str, str]) -> list[str]:
    ec2 = moto.client("ec2")
    found: list[str] = []
    for kind, call, items_key, id_key in (
            ("vpc", "describe_vpcs", "Vpcs", "VpcId"),
            ("subnet", "describe_subnets", "Subnets", "SubnetId"),
            ("security-group", "describe_security_groups", "SecurityGroups", "GroupId"),
            ("launch-template", "describe_launch_templates", "LaunchTemplates",
             "LaunchTemplateId"),
            ("nat", "describe_nat_gateways", "NatGateways", "NatGatewayId"),
            ("igw", "describe_internet_gateways", "InternetGateways", "InternetGatewayId"),
            ("eip", "describe_addresses", "Addresses", "AllocationId"),
            ("flow-log", "describe_flow_logs", "FlowLogs", "FlowLogId")):
        for item in getattr(ec2, call)()[items_key]:
            if _has_tag(item.get("Tags"), wanted) and item.get("State") not in (
                    "deleted", "deleting"):
                found.append(f"{kind}:{item[id_key]}")
    reservations = ec2.describe_instances(Filters=[
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopped"]}])
    found += [f"instance:{i['InstanceId']}" for r in reservations["Reservations"]
              for i in r["Instances"] if _has_tag(i.get("Tags"), wanted)]
    groups = moto.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    found += [f"asg:{g['AutoScalingGroupName']}" for g in groups
              if _has_tag(g.get("Tags"), wanted)]
    return found


def _elb_tagged(moto: Moto, wanted: tuple[str, str]) -> list[str]:
    elb = moto.client("elbv2")
    arns = [*(("lb", b["LoadBalancerArn"]) for b in elb.describe_load_balancers()["LoadBalancers"]),
            *(("target-group", g["TargetGroupArn"])
              for g in elb.describe_target_groups()["TargetGroups"])]
    found: list[str] = []
    for kind, arn in arns:
        described = elb.describe_tags(ResourceArns=[arn])["TagDescriptions"]
        if any(_has_tag(d.get("Tags"), wanted) for d in described):
            found.append(f"{kind}:{arn}")
    return found


def _s3_tagged(moto: Moto, wanted: tuple[str, str]) -> list[str]:
    s3 = moto.client("s3")
    found: list[str] = []
    for bucket in s3.list_buckets()["Buckets"]:
        try:
            tags = s3.get_bucket_tagging(Bucket=bucket["Name"])["TagSet"]
        except ClientError:  # NoSuchTagSet: an untagged bucket
            continue
        if _has_tag(tags, wanted):
            found.append(f"bucket:{bucket['Name']}")
    return found


def _iam_tagged(moto: Moto, wanted: tuple[str, str]) -> list[str]:
    iam = moto.client("iam")
    found = [f"role:{r['RoleName']}" for r in iam.list_roles()["Roles"]
             if _has_tag(iam.list_role_tags(RoleName=r["RoleName"])["Tags"], wanted)]
    # moto has no ListInstanceProfileTags; its profile listing carries the tags.
    found += [f"instance-profile:{p['InstanceProfileName']}"
              for p in iam.list_instance_profiles()["InstanceProfiles"]
              if _has_tag(p.get("Tags"), wanted)]
    found += [f"policy:{p['Arn']}" for p in iam.list_policies(Scope="Local")["Policies"]
              if _has_tag(iam.list_policy_tags(PolicyArn=p["Arn"])["Tags"], wanted)]
    return found


def _logs_tagged(moto: Moto, wanted: tuple[str, str]) -> list[str]:
    logs = moto.client("logs")
    return [f"log-group:{g['logGroupName']}" for g in logs.describe_log_groups()["logGroups"]
            if _has_tag(logs.list_tags_log_group(logGroupName=g["logGroupName"])["tags"],
                        wanted)]
