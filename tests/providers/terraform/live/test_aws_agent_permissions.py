"""The agent policy of ``modules/aws-iam`` is enough for the agent's Terraform runs: the real
``aws-ollama`` stack applies and destroys against a moto server that authorises every call
against the caller's IAM policies, with the keys of a user holding only that policy; and a user
whose policy lacks one action the run needs is refused with an authorization error.

What moto checks, and so what this proves (moto 5, ``moto/core/authorization.py``,
``moto/iam/access_control.py``): once enforcement is on (``enforce_iam``), every query and JSON
API call (EC2, Auto Scaling, IAM, STS, SSM, ELB, Logs...) must be signed with a known access
key and be allowed by the user's policies; explicit Deny wins. It matches the *action* only:
every non-IAM call is authorised against resource ``*``, so a statement scoped to ARNs never
matches, and conditions are not evaluated (except on role trust). The test therefore gives the
user the agent policy with each statement's resources widened to ``*``: it proves the policy's
*actions* are sufficient. Resource scoping and conditions are checked by the module's
``terraform test`` (``modules/aws-iam/tests/``); the agent's own boto3 calls by
``tests/deploy/terraform/test_agent_permissions.py``.

The other direction: every action the policy grants is either called by this run (recorded at
a proxy in front of moto) or listed in ``NOT_CALLED`` with the path that needs it, so the
policy cannot grow an action nobody calls without this test saying so.

A separate moto server (not the session's) so enforcement never reaches another test; the
operator's foundation is applied with unrestricted calls first and simply dropped with the
server.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from flowllama.errors import ProvisioningFailed
from flowllama.providers import DeploymentSpec, Placement
from flowllama.providers.terraform import Engine, TerraformProvisioner
from flowllama.providers.terraform.cloud_stacks import aws_foundation_stack, aws_ollama_stack
from flowllama.providers.terraform.foundation import Foundations
from providers.terraform.live.aws_moto import (
    LIVE,
    MOTO_CREDENTIALS,
    REGION,
    TEST_OLLAMA_SHA256,
    Moto,
    capacity_proxy,
    enforce_iam,
    moto_server,
    tagged,
    terraform_cli_config,
)

pytestmark = pytest.mark.slow

# Granted by the agent policy but not called by an apply + destroy of the aws-ollama stack with
# hashicorp/aws 3.39 here, by the path that needs each. Checked both ways: an action the run
# calls must not be listed, and every granted action is called or listed.
NOT_CALLED: dict[str, set[str]] = {
    "changing a running deployment (new template version, stop/start, instance refresh, metrics)":
        {"ec2:CreateLaunchTemplateVersion", "ec2:ModifyLaunchTemplate",
         "ec2:DeleteLaunchTemplateVersions", "ec2:DeleteTags", "autoscaling:SetDesiredCapacity",
         "autoscaling:StartInstanceRefresh", "autoscaling:CancelInstanceRefresh",
         "autoscaling:DescribeInstanceRefreshes", "autoscaling:DisableMetricsCollection",
         "autoscaling:DeleteTags", "autoscaling:SuspendProcesses",
         "autoscaling:ResumeProcesses", "autoscaling:DescribeScalingActivities"},
    "a load balancer in front of the group":
        {"autoscaling:AttachLoadBalancerTargetGroups",
         "autoscaling:DetachLoadBalancerTargetGroups",
         "autoscaling:DescribeLoadBalancerTargetGroups"},
    # AWS authorises these inside CreateLaunchTemplate / CreateAutoScalingGroup (tag on create,
    # the group launching instances with the instance role, the service-linked role made on
    # first use); moto authorises only the API call itself.
    "authorised by AWS inside another call, never an API call of the stack's own":
        {"ec2:CreateTags", "autoscaling:CreateOrUpdateTags", "ec2:RunInstances", "iam:PassRole",
         "iam:CreateServiceLinkedRole"},
    "newer provider versions' reads and checks (3.39 skips the EC2 platform check here)":
        {"ec2:DescribeAccountAttributes", "ec2:DescribeAvailabilityZones",
         "ec2:DescribeInstanceAttribute", "ec2:DescribeInstanceTypeOfferings",
         "ec2:DescribeInstanceTypes", "ec2:DescribeSecurityGroupRules", "ec2:DescribeTags",
         "ec2:DescribeVolumes", "ec2:DescribeVpcs", "autoscaling:DescribeTags",
         "autoscaling:DescribeLifecycleHooks", "autoscaling:DescribeWarmPool"},
    "the agent's own boto3 calls (spot-interruption check, live spot prices)":
        {"ec2:DescribeSpotInstanceRequests", "ec2:DescribeSpotPriceHistory"},
    "image_id null: the Deep Learning AMI from its public SSM parameter":
        {"ssm:GetParameter", "ssm:GetParameters", "ec2:DescribeImages"},
    # Read-only and scoped to the one profile and role; nothing here calls them.
    "not seen called by any path here (kept: read-only, the instance profile and role only)":
        {"iam:GetInstanceProfile", "iam:GetRole"},
}


@dataclass(frozen=True)
class EnforcedMoto:
    """A moto server with an applied foundation, the agent policy's actions, and a Terraform
    provisioner factory for a given set of keys."""

    moto: Moto
    engine: Engine
    foundations: Foundations
    policy: dict[str, Any]
    values: dict[str, Any]

    def provisioner(self, workspaces: Path, keys: dict[str, str]) -> TerraformProvisioner:
        env = {**self.moto.env, **keys}
        return TerraformProvisioner(
            workspaces, [aws_ollama_stack()], engine=self.engine, options=LIVE, env=env,
            provider_settings=self.moto.provider_settings, cloud_values={"aws": self.values},
            foundations=self.foundations)

    def user(self, name: str, policy: dict[str, Any]) -> dict[str, str]:
        """An IAM user holding only ``policy`` (as a managed policy); its keys, as env."""
        iam = self.moto.client("iam")
        arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(policy))[
            "Policy"]["Arn"]
        iam.create_user(UserName=name)
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


@pytest.fixture(scope="module")
def enforced(live_engine: Engine, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[EnforcedMoto]:
    config = terraform_cli_config()
    with moto_server() as url, capacity_proxy(url) as proxy:
        moto = Moto(url, proxy, {**MOTO_CREDENTIALS, "TF_CLI_CONFIG_FILE": str(config)})
        foundations = Foundations(
            tmp_path_factory.mktemp("enforced") / "terraform", [aws_foundation_stack()],
            engine=live_engine, options=LIVE, env=moto.env,
            provider_settings=moto.provider_settings,
            cloud_values={"aws": {"environment": "test"}})
        foundations.apply("aws", REGION)
        values = {"environment": "test", "image_id": moto.image_id(),
                  "ollama_sha256": TEST_OLLAMA_SHA256}
        yield EnforcedMoto(moto, live_engine, foundations, _agent_policy(moto), values)


def _agent_policy(moto: Moto) -> dict[str, Any]:
    """The agent policy the foundation's aws-iam module created, each statement's resources
    widened to ``*`` (moto authorises every non-IAM call against ``*``; see the module doc)."""
    iam = moto.client("iam")
    policies = [p for p in iam.list_policies(Scope="Local")["Policies"]
                if p["PolicyName"].endswith("-agent")]
    assert len(policies) == 1, policies
    version = iam.get_policy_version(PolicyArn=policies[0]["Arn"],
                                     VersionId=policies[0]["DefaultVersionId"])
    document = version["PolicyVersion"]["Document"]
    if isinstance(document, str):
        document = json.loads(document)
    return {**document, "Statement": [{**s, "Resource": "*"} for s in document["Statement"]]}


def _actions(policy: dict[str, Any]) -> set[str]:
    return {action for s in policy["Statement"] for action in _listed(s["Action"])}


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _without(policy: dict[str, Any], action: str) -> dict[str, Any]:
    """``policy`` with ``action`` removed from every statement (emptied statements dropped)."""
    statements = [{**s, "Action": [a for a in _listed(s["Action"]) if a != action]}
                  for s in policy["Statement"]]
    return {**policy, "Statement": [s for s in statements if s["Action"]]}


def _spec_and_placement() -> tuple[DeploymentSpec, Placement]:
    deployment_id = uuid.uuid4().hex
    spec = DeploymentSpec(deployment_id=deployment_id, user_id="u1", name="agent-permissions",
                          model="llama3.2:1b", context_size=4096, cloud="aws")
    placement = Placement(cloud="aws", region=REGION, instance_type="g6.xlarge",
                          price_per_hour=0.805, gpu="nvidia-l4", gpu_count=1)
    return spec, placement


def test_the_agent_policy_is_enough_to_apply_and_destroy_the_ollama_stack(
        enforced: EnforcedMoto, tmp_path: Path) -> None:
    keys = enforced.user("flowllama-agent", enforced.policy)
    provisioner = enforced.provisioner(tmp_path / "terraform", keys)
    spec, placement = _spec_and_placement()
    seen, denied = len(enforced.moto.proxy.actions), len(enforced.moto.proxy.denied)
    enforce_iam(enforced.moto.url, True)
    try:
        handle = provisioner.create(spec, placement)
        assert handle.data["outputs"]["instance_id"].startswith("i-")
        provisioner.destroy(handle)
    except ProvisioningFailed as exc:  # provider 3.39 drops moto's message: name the action
        pytest.fail(f"refused {enforced.moto.proxy.denied[denied:]}: {exc}")
    finally:
        enforce_iam(enforced.moto.url, False)
    called = set(enforced.moto.proxy.actions[seen:])
    assert "autoscaling:CreateAutoScalingGroup" in called  # the run was seen at the proxy
    assert tagged(enforced.moto, "flowllama:deployment", spec.deployment_id) == []
    granted = _actions(enforced.policy)
    listed = set().union(*NOT_CALLED.values())
    assert enforced.moto.proxy.denied[denied:] == []
    assert called <= granted  # moto refuses what the policy does not grant; a sanity check
    assert granted - called - listed == set(), "granted, never called, not in NOT_CALLED"
    assert called & listed == set(), "called, yet listed in NOT_CALLED"
    assert listed - granted == set(), "listed in NOT_CALLED, no longer granted"


# The group itself, and the call found missing from the policy by this test (the aws-asg module
# turns on the group's CloudWatch metrics).
@pytest.mark.parametrize("missing", ["autoscaling:CreateAutoScalingGroup",
                                     "autoscaling:EnableMetricsCollection"])
def test_a_policy_without_one_needed_action_is_refused(
        enforced: EnforcedMoto, tmp_path: Path, missing: str) -> None:
    name = "flowllama-agent-without-" + missing.split(":")[1].lower()
    keys = enforced.user(name, _without(enforced.policy, missing))
    provisioner = enforced.provisioner(tmp_path / "terraform", keys)
    spec, placement = _spec_and_placement()
    denied = len(enforced.moto.proxy.denied)
    enforce_iam(enforced.moto.url, True)
    try:
        with pytest.raises(ProvisioningFailed, match="403"):
            provisioner.create(spec, placement)
    finally:
        enforce_iam(enforced.moto.url, False)
    assert enforced.moto.proxy.denied[denied:] == [missing]
    # The failed apply was rolled back, with the same restricted keys, to nothing.
    assert tagged(enforced.moto, "flowllama:deployment", spec.deployment_id) == []
