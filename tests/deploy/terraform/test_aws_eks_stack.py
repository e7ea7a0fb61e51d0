"""The aws-eks stack applied for real: the Terraform engine, hashicorp/aws 3.39 from the
offline mirror, moto's server for the AWS APIs. Checks what AWS would hold afterwards (the
cluster's private endpoint, KMS secrets encryption and logs, the CPU and spot GPU node groups
with their pool labels, the OIDC provider, IRSA roles that trust exactly one ServiceAccount),
then destroys it.

Moto answers the EKS API but runs no Kubernetes: no control plane or node starts, no node
joins, no IRSA token is exchanged with STS. The session summary says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import httpx
import pytest

from flowllama.devtools.moto_override import provider_block
from flowllama.providers.local.supervision import free_port

if TYPE_CHECKING:
    from ..conftest import Terraform

pytestmark = pytest.mark.timeout(900)

NAME = "fl-eks-test"
ZONES = ["us-east-1a", "us-east-1b"]
AGENT_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}]}
BUCKET = "arn:aws:s3:::fl-eks-test-results"
# Provider 3.39 validates ami_type against the AMI types it knew (AL2_*) and wants min_size >= 1;
# the stack's defaults are the current AL2023 ones and a GPU group that may scale to zero
# (README: "Provider versions and what differs").
VARIABLES: dict[str, Any] = {
    "name": NAME, "region": "us-east-1", "environment": "test", "availability_zones": ZONES,
    "cpu_node_group": {"instance_types": ["m6i.large"], "capacity_type": "ON_DEMAND",
                       "ami_type": "AL2_x86_64", "min_size": 1, "desired_size": 2,
                       "max_size": 3, "disk_size_gb": 50},
    "gpu_node_group": {"enabled": True, "instance_types": ["g6.xlarge", "g5.xlarge"],
                       "capacity_type": "SPOT", "ami_type": "AL2_x86_64_GPU", "min_size": 1,
                       "desired_size": 1, "max_size": 2, "disk_size_gb": 200},
    "agent_policy_json": json.dumps(AGENT_POLICY),
    "loadtest_results_bucket_arn": BUCKET,
}
ROOT = """
variable "stack" {
  type        = any
  description = "The stack's variables."
}

module "eks" {
  source = "../aws-eks"

  name                        = var.stack.name
  region                      = var.stack.region
  environment                 = var.stack.environment
  availability_zones          = var.stack.availability_zones
  cpu_node_group              = var.stack.cpu_node_group
  gpu_node_group              = var.stack.gpu_node_group
  agent_policy_json           = var.stack.agent_policy_json
  loadtest_results_bucket_arn = var.stack.loadtest_results_bucket_arn
}

output "eks" {
  description = "Every output of the stack."
  value       = module.eks
}
"""


class MotoServer:
    """A moto server of this module's own, with AWS's managed policies loaded (the stack
    attaches AmazonEKSClusterPolicy and the node policies; moto loads them only on request)."""

    def __init__(self) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
             self.url.rsplit(":", 1)[1]],
            env={**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"moto server exited with {self.proc.returncode}")
            try:
                if httpx.get(f"{self.url}/moto-api/", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        pytest.fail(f"moto server did not answer within {timeout_s:.0f} s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def moto_server() -> Iterator[MotoServer]:
    try:
        import moto.server  # noqa: F401 - only checks that the server extra is installed
    except ImportError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"required under CI: moto[server]: {exc}")
        pytest.skip(f"moto[server] is not installed: {exc}")
    server = MotoServer()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def _root(tree: Path, moto: MotoServer) -> Path:
    root = tree / "stacks" / "aws-eks-moto"
    root.mkdir()
    (root / "main.tf").write_text(provider_block(moto.url, region="us-east-1") + ROOT)
    (root / "terraform.tfvars.json").write_text(json.dumps({"stack": VARIABLES}))
    return root


def _client(moto: MotoServer, service: str) -> Any:
    return boto3.client(service, endpoint_url=moto.url, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def _check_cluster(moto: MotoServer, outputs: dict[str, Any]) -> None:
    eks = _client(moto, "eks")
    cluster = eks.describe_cluster(name=NAME)["cluster"]
    vpc = cluster["resourcesVpcConfig"]
    assert (vpc["endpointPrivateAccess"], vpc["endpointPublicAccess"]) == (True, False)
    assert set(vpc["subnetIds"]) == set(outputs["private_subnet_ids"])
    assert cluster["encryptionConfig"][0]["resources"] == ["secrets"]
    logging = cluster["logging"]["clusterLogging"][0]
    assert logging["enabled"] and len(logging["types"]) == 5
    assert (cluster["tags"]["project"], cluster["tags"]["environment"]) == ("flowllama", "test")
    groups = {name: eks.describe_nodegroup(clusterName=NAME, nodegroupName=name)["nodegroup"]
              for name in eks.list_nodegroups(clusterName=NAME)["nodegroups"]}
    assert set(groups) == {f"{NAME}-cpu", f"{NAME}-gpu"}
    gpu = groups[f"{NAME}-gpu"]
    assert (gpu["capacityType"], gpu["amiType"]) == ("SPOT", "AL2_x86_64_GPU")
    assert gpu["labels"] == {"flowllama.io/pool": "gpu", "nvidia.com/gpu.present": "true"}
    assert gpu["instanceTypes"] == ["g6.xlarge", "g5.xlarge"]
    assert groups[f"{NAME}-cpu"]["labels"] == {"flowllama.io/pool": "cpu"}
    assert set(groups[f"{NAME}-cpu"]["subnets"]) == set(outputs["private_subnet_ids"])


def _check_irsa(moto: MotoServer, outputs: dict[str, Any]) -> None:
    iam = _client(moto, "iam")
    providers = [p["Arn"] for p in iam.list_open_id_connect_providers()[
        "OpenIDConnectProviderList"]]
    assert providers == [outputs["oidc_provider_arn"]]
    issuer = outputs["oidc_issuer_url"].removeprefix("https://")
    roles = outputs["irsa_role_arns"]
    assert set(roles) == {"agent", "loadtest"}  # api and gateway: none by default
    for key, account in (("agent", "flowllama-agent"), ("loadtest", "flowllama-loadtest")):
        role = iam.get_role(RoleName=roles[key].split("/")[-1])["Role"]
        [statement] = role["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert statement["Principal"] == {"Federated": outputs["oidc_provider_arn"]}
        assert statement["Condition"]["StringEquals"] == {
            f"{issuer}:sub": f"system:serviceaccount:flowllama:{account}",
            f"{issuer}:aud": "sts.amazonaws.com"}
    agent = iam.get_role_policy(RoleName=f"{NAME}-sa-agent", PolicyName="flowllama-agent")
    assert agent["PolicyDocument"] == AGENT_POLICY
    loadtest = iam.get_role_policy(RoleName=f"{NAME}-sa-loadtest",
                                   PolicyName="flowllama-loadtest-results")
    resources = [s["Resource"] for s in loadtest["PolicyDocument"]["Statement"]]
    assert resources == [BUCKET, f"{BUCKET}/loadtests/*"]


def test_the_stack_applies_and_destroys_against_moto(
        terraform: Terraform, fresh_tree: Path, moto_server: MotoServer,
        note_not_run: Callable[[str], None]) -> None:
    root = _root(fresh_tree, moto_server)
    result = terraform.init(root)
    assert result is not None and result.returncode == 0, terraform.explain(result)
    applied = terraform.run(root, "apply", "-input=false", "-auto-approve", "-lock=false",
                            timeout_s=600)
    try:
        assert applied.returncode == 0, terraform.explain(applied)
        shown = terraform.run(root, "output", "-json")
        assert shown.returncode == 0, terraform.explain(shown)
        outputs = json.loads(shown.stdout)["eks"]["value"]
        _check_cluster(moto_server, outputs)
        _check_irsa(moto_server, outputs)
    finally:
        destroyed = terraform.run(root, "destroy", "-input=false", "-auto-approve",
                                  "-lock=false", timeout_s=600)
    assert destroyed.returncode == 0, terraform.explain(destroyed)
    assert _client(moto_server, "eks").list_clusters()["clusters"] == []
    note_not_run("stacks/aws-eks: applied against moto only: no Kubernetes control plane or "
                 "node ran, no node joined, no IRSA token was exchanged (needs an AWS account)")
