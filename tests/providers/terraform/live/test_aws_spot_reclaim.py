"""A reclaimed AWS spot server, seen through the real Terraform provisioner's ``refresh``: the
aws-ollama stack applied on spot capacity against moto, its instance terminated behind
Terraform's back, and the interruption check asking EC2 through the endpoint the provider
settings give.

The simulated part: moto terminates an instance only as its user would (state reason
``Client.UserInitiatedShutdown``) and its server runs in another process, so a small proxy in
front of it answers ``DescribeInstances`` with the reason EC2 gives a spot interruption
(``Server.SpotInstanceTermination``) when the test says EC2 reclaimed the server. Everything
else (the stack, the termination, Terraform's refresh, the check's EC2 calls) is real.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest

from flowllama.providers import DeploymentSpec, Placement
from flowllama.providers.terraform import TerraformProvisioner
from flowllama.providers.terraform.cloud_stacks import aws_ollama_stack
from flowllama.providers.terraform.interruptions import AwsSpotInterruptions
from providers.terraform.live.aws_moto import (
    LIVE,
    REGION,
    Foundation,
    Moto,
    provider_settings,
    serving,
)

pytestmark = pytest.mark.slow

USER_REASON = b"Client.UserInitiatedShutdown"
SPOT_REASON = b"Server.SpotInstanceTermination"


@dataclass
class ReclaimingProxy:
    """Forwards to moto; while ``reclaimed``, EC2's spot reason replaces a user termination's in
    ``DescribeInstances`` answers (only this test's server is terminated while it runs)."""

    upstream: str
    url: str = ""
    reclaimed: bool = False
    rewritten: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, body: bytes, reply: bytes) -> bytes:
        if not self.reclaimed or b"Action=DescribeInstances" not in body:
            return reply
        with self.lock:
            self.rewritten += reply.count(USER_REASON)
        return reply.replace(USER_REASON, SPOT_REASON)


@contextmanager
def reclaiming_proxy(upstream: str) -> Iterator[ReclaimingProxy]:
    proxy = ReclaimingProxy(upstream)
    client = httpx.Client(timeout=60)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("host", "content-length", "connection")}
            reply = client.post(proxy.upstream + self.path, content=body, headers=headers)
            content = proxy.answer(body, reply.content)
            self.send_response(reply.status_code)
            self.send_header("Content-Type", reply.headers.get("content-type", "text/xml"))
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, *args: Any) -> None:
            pass

    with client, serving(Handler) as url:
        proxy.url = url
        yield proxy


def test_a_spot_server_terminated_by_ec2_is_reported_reclaimed_by_terraform_refresh(
        moto: Moto, foundation: Foundation, ollama_values: dict[str, Any],
        workspaces: Path) -> None:
    with reclaiming_proxy(moto.url) as proxy:
        check = AwsSpotInterruptions(provider_settings(proxy.url)["aws"])
        provisioner = TerraformProvisioner(
            workspaces, [aws_ollama_stack()], engine=foundation.foundations.engine,
            options=LIVE, env=moto.env, provider_settings=moto.provider_settings,
            cloud_values={"aws": ollama_values}, foundations=foundation.foundations,
            interruptions=check)
        spec = DeploymentSpec(deployment_id=uuid.uuid4().hex, user_id="u1", name="spot",
                              model="llama3.1:8b", context_size=8192, cloud="aws", spot=True)
        placement = Placement(cloud="aws", region=REGION, instance_type="g6.xlarge", spot=True,
                              price_per_hour=0.32, gpu="nvidia-l4", gpu_count=1)
        handle = provisioner.create(spec, placement)
        try:
            instance_id = handle.data["outputs"]["instance_id"]
            before = provisioner.refresh(handle)
            assert before.running and not before.reclaimed, before

            # Terminated behind Terraform's back; the group launches a replacement.
            moto.client("ec2").terminate_instances(InstanceIds=[instance_id])
            crashed = provisioner.refresh(handle)
            assert not crashed.reclaimed, crashed
            assert f"{instance_id} terminated (Client.UserInitiatedShutdown)" in crashed.detail

            proxy.reclaimed = True  # from here on EC2 says why: a spot interruption
            reclaimed = provisioner.refresh(handle)
            assert reclaimed.reclaimed, reclaimed
            assert f"{instance_id} reclaimed by AWS (Server.SpotInstanceTermination)" \
                in reclaimed.detail
            assert proxy.rewritten > 0
        finally:
            provisioner.destroy(handle)
