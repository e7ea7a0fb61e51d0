"""The AWS stacks applied for real (Terraform engine, hashicorp/aws 3.39, moto): what the
foundation and one deployment's server create, that a re-plan changes nothing beyond moto's
known gap, and that destroy leaves nothing tagged.

One foundation serves the whole session; the ollama stack is applied once here.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from flowllama.catalog.disk import root_disk_gib
from flowllama.catalog.models import default_catalog
from flowllama.providers import DeploymentSpec, Placement
from flowllama.providers.terraform import Engine, TerraformProvisioner
from flowllama.providers.terraform.cloud_stacks import AWS_FOUNDATION_OUTPUTS, aws_ollama_stack
from flowllama.providers.terraform.engine import engine_env, run_engine
from flowllama.providers.terraform.workspace import Workspace
from providers.terraform.live.aws_moto import LIVE, REGION, Foundation, Moto, tagged

pytestmark = pytest.mark.slow

OLLAMA_PORT = 11434
# moto 5 echoes a launch template's own tags back as a tag_specifications block of type
# "launch-template", which AWS does not; so a re-plan wants to update the template (dropping that
# block), and the group's template version follows it. That is the whole documented drift
# (docs/terraform.md): attribute by attribute, nothing else may change.
MOTO_GAPS = {
    "module.stack.module.launch_template.aws_launch_template.this":
        {"tag_specifications", "default_version", "latest_version"},
    "module.stack.module.asg.aws_autoscaling_group.this": {"launch_template"},
}


def test_the_foundation_has_private_subnets_a_versioned_encrypted_bucket_and_tags(
        moto: Moto, foundation: Foundation) -> None:
    outputs = foundation.outputs
    assert set(AWS_FOUNDATION_OUTPUTS) <= set(outputs)
    ec2 = moto.client("ec2")
    subnets = ec2.describe_subnets(SubnetIds=outputs["private_subnet_ids"])["Subnets"]
    assert len(subnets) >= 2 and not any(s["MapPublicIpOnLaunch"] for s in subnets)
    assert {s["VpcId"] for s in subnets} == {outputs["vpc_id"]}
    s3 = moto.client("s3")
    bucket = outputs["model_bucket_name"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("aws:kms", "AES256")
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert (tags["project"], tags["environment"]) == ("flowllama", "test")
    groups = moto.client("logs").describe_log_groups(
        logGroupNamePrefix=outputs["instance_log_group_name"])["logGroups"]
    assert [(g["logGroupName"], g["retentionInDays"]) for g in groups] == [
        (outputs["instance_log_group_name"], 365)]
    in_vpc = [{"Name": "vpc-id", "Values": [outputs["vpc_id"]]}]
    attached = [{"Name": "attachment.vpc-id", "Values": [outputs["vpc_id"]]}]
    resources = [
        *ec2.describe_vpcs(VpcIds=[outputs["vpc_id"]])["Vpcs"],
        *ec2.describe_subnets(Filters=in_vpc)["Subnets"],
        *ec2.describe_security_groups(Filters=in_vpc)["SecurityGroups"],
        *ec2.describe_route_tables(Filters=in_vpc)["RouteTables"],
        *ec2.describe_nat_gateways(Filter=in_vpc)["NatGateways"],
        *ec2.describe_internet_gateways(Filters=attached)["InternetGateways"],
    ]
    untagged = [r for r in resources if not {("project", "flowllama"), ("environment", "test")}
                <= {(t["Key"], t["Value"]) for t in r.get("Tags", [])}
                and not any(a.get("Main") for a in r.get("Associations", []))]  # VPC's own
    assert len(resources) >= 8 and untagged == []
    # What the teardown check (nothing tagged left) looks at beyond EC2: it must see these.
    kinds = {item.split(":", 1)[0] for item in tagged(moto, "environment", "test")}
    assert {"vpc", "subnet", "nat", "igw", "eip", "flow-log", "bucket", "role",
            "instance-profile", "policy", "log-group"} <= kinds, kinds


def test_the_foundation_replans_clean(moto: Moto, foundation: Foundation) -> None:
    foundations = foundation.foundations
    stack = foundations.stack_for("aws")
    workspace = foundations.root_dir / foundations.workspace_name(stack, REGION)
    # No moto gap touches the foundation: nothing may change.
    assert _replan(moto, foundations.engine, workspace) == {}


def test_one_deployment_server_applies_replans_clean_and_destroys_to_nothing(
        moto: Moto, foundation: Foundation, ollama_values: dict[str, Any],
        workspaces: Path) -> None:
    provisioner = TerraformProvisioner(
        workspaces, [aws_ollama_stack()], engine=foundation.foundations.engine, options=LIVE,
        env=moto.env, provider_settings=moto.provider_settings,
        cloud_values={"aws": ollama_values}, foundations=foundation.foundations)
    deployment_id = uuid.uuid4().hex  # 32 characters, like real deployments
    # A model whose root disk is above the 100 GiB floor, so the size is seen to follow it.
    disk = root_disk_gib(default_catalog().get("gemma2:27b").size_bytes)
    spec = DeploymentSpec(deployment_id=deployment_id, user_id="u1", name="it's $(mine)",
                          model="gemma2:27b", context_size=8192, cloud="aws", root_disk_gib=disk)
    placement = Placement(cloud="aws", region=REGION, instance_type="g6.xlarge",
                          price_per_hour=0.805, gpu="nvidia-l4", gpu_count=1)
    handle = provisioner.create(spec, placement)
    try:
        outputs = handle.data["outputs"]
        instance = _instance(moto, outputs["instance_id"])
        assert instance["InstanceType"] == "g6.xlarge"
        assert instance["SubnetId"] in foundation.outputs["private_subnet_ids"]
        assert outputs["private_ip"] == instance["PrivateIpAddress"]
        assert outputs["endpoint_url"] == f"http://{instance['PrivateIpAddress']}:{OLLAMA_PORT}"
        assert outputs.get("public_ip") is None  # Terraform omits null outputs
        _assert_only_the_gateway_reaches_ollama(moto, instance, foundation)
        _assert_imdsv2_on_the_template(moto, deployment_id, disk)
        assert {"Key": "flowllama:deployment", "Value": deployment_id} in instance["Tags"]
        assert len(tagged(moto, "flowllama:deployment", deployment_id)) >= 4  # sg, lt, asg, vm
        assert provisioner.refresh(handle).running
        drift = _replan(moto, provisioner.engine,
                        Workspace(provisioner.root_dir, handle.name).path)
        assert all(drift[address] <= MOTO_GAPS.get(address, set()) for address in drift), drift
    finally:
        provisioner.destroy(handle)
    assert tagged(moto, "flowllama:deployment", deployment_id) == []


def _instance(moto: Moto, instance_id: str) -> dict[str, Any]:
    reservations = moto.client("ec2").describe_instances(InstanceIds=[instance_id])
    instance: dict[str, Any] = reservations["Reservations"][0]["Instances"][0]
    return instance


def _assert_only_the_gateway_reaches_ollama(moto: Moto, instance: dict[str, Any],
                                            foundation: Foundation) -> None:
    ec2 = moto.client("ec2")
    group_ids = [g["GroupId"] for g in instance["SecurityGroups"]]
    groups = ec2.describe_security_groups(GroupIds=group_ids)["SecurityGroups"]
    rules = [rule for group in groups for rule in group["IpPermissions"]]
    assert rules, "the server's security group admits nothing"
    for rule in rules:
        assert (rule.get("FromPort"), rule.get("ToPort")) == (OLLAMA_PORT, OLLAMA_PORT)
        assert not rule.get("IpRanges") and not rule.get("Ipv6Ranges")
        sources = {pair["GroupId"] for pair in rule["UserIdGroupPairs"]}
        assert sources == {foundation.outputs["gateway_security_group_id"]}


def _assert_imdsv2_on_the_template(moto: Moto, deployment_id: str, disk_gib: int) -> None:
    ec2 = moto.client("ec2")
    templates = ec2.describe_launch_templates(Filters=[
        {"Name": "tag:flowllama:deployment", "Values": [deployment_id]}])["LaunchTemplates"]
    assert len(templates) == 1
    version = ec2.describe_launch_template_versions(
        LaunchTemplateId=templates[0]["LaunchTemplateId"])["LaunchTemplateVersions"][-1]
    data = version["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpEndpoint"] == "enabled"
    assert data["MetadataOptions"]["HttpTokens"] == "required"  # IMDSv2 only
    assert data["MetadataOptions"].get("HttpPutResponseHopLimit") == 1
    assert data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] in (True, "true")
    assert int(data["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"]) == disk_gib > 100


def _replan(moto: Moto, engine: Engine, workspace: Path) -> dict[str, set[str]]:
    """What a fresh plan of an applied workspace would change: address -> changed attributes."""
    env = engine_env(moto.env)
    planned = run_engine(engine, ["plan", "-input=false", "-no-color", "-lock=false",
                                  "-out=replan.tfplan"], cwd=workspace, env=env, timeout_s=300)
    assert planned.returncode == 0, planned.stderr
    shown = run_engine(engine, ["show", "-json", "replan.tfplan"], cwd=workspace, env=env,
                       timeout_s=300)
    (workspace / "replan.tfplan").unlink()
    assert shown.returncode == 0, shown.stderr
    drift: dict[str, set[str]] = {}
    for item in json.loads(shown.stdout).get("resource_changes", []):
        change = item["change"]
        if change["actions"] in (["no-op"], ["read"]):
            continue
        before, after = change.get("before") or {}, change.get("after") or {}
        unknown = change.get("after_unknown") or {}
        drift[item["address"]] = {key for key in {*before, *after, *unknown}
                                  if before.get(key) != after.get(key)
                                  or _has_unknown(unknown.get(key))}
    return drift


def _has_unknown(marks: Any) -> bool:
    """Whether ``after_unknown`` marks anything under this value as known only after apply."""
    if isinstance(marks, dict):
        return any(_has_unknown(value) for value in marks.values())
    if isinstance(marks, list):
        return any(_has_unknown(value) for value in marks)
    return marks is True
