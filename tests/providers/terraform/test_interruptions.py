"""Telling a reclaimed AWS spot server from a crashed one, against moto's EC2.

moto runs spot instances (``InstanceMarketOptions``) and spot requests, but has no API that
interrupts one the way EC2 does. The simulated part, in :func:`reclaim` and :func:`request_status`
only, sets on moto's backend objects what EC2 itself sets when it takes a spot instance back:
the instance's ``StateReason`` (``Server.SpotInstanceTermination``) after terminating it, or its
spot request's status code. Everything else goes through the EC2 API.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ec2.models import ec2_backends
from moto.ec2.models.instances import StateReason
from moto.server import ThreadedMotoServer

from flowllama.providers import DeploymentSpec, Handle, Placement
from flowllama.providers.naming import resource_name
from flowllama.providers.terraform import TerraformProvisioner
from flowllama.providers.terraform.interruptions import (
    AwsSpotInterruptions,
    Interruption,
    ec2_endpoint,
)

REGION = "us-east-1"
SERVER = resource_name("0123456789abcdef0123456789abcdef-s1")
SPOT_MARKET = {"MarketType": "spot", "SpotOptions": {"SpotInstanceType": "one-time"}}


@pytest.fixture
def ec2() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("ec2", region_name=REGION)


def backend() -> Any:
    return ec2_backends[DEFAULT_ACCOUNT_ID][REGION]


def handle(*, cloud: str = "aws", spot: bool = True, instance_id: str | None = None) -> Handle:
    """A Terraform handle as ``create`` records it (meta placement, outputs)."""
    placement = {"cloud": cloud, "region": REGION, "zone": None, "instance_type": "g6.xlarge",
                 "spot": spot, "price_per_hour": 0.3, "gpu": "L4", "gpu_count": 1}
    return Handle("terraform", "0123456789abcdef0123456789abcdef", SERVER, {
        "meta": {"stack": "aws-ollama", "placement": placement},
        "variables": {}, "outputs": {"instance_id": instance_id}, "slot": "s1"})


def launch(ec2: Any, *, spot: bool = True, name: str = SERVER) -> str:
    """One instance as the stack's group launches it: spot market, ``Name`` tag."""
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    extra = {"InstanceMarketOptions": SPOT_MARKET} if spot else {}
    answer = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro",
                               TagSpecifications=[{"ResourceType": "instance",
                                                   "Tags": [{"Key": "Name", "Value": name}]}],
                               **extra)
    return str(answer["Instances"][0]["InstanceId"])


def reclaim(ec2: Any, instance_id: str, code: str = "Server.SpotInstanceTermination") -> None:
    """EC2 takes the spot instance back: terminated (through the API), then the reason EC2 gives
    an interruption set on moto's backend (the simulated part)."""
    ec2.terminate_instances(InstanceIds=[instance_id])
    backend().get_instance(instance_id).state_reason = StateReason(f"{code}: {code}", code)


def request_status(instance_id: str, code: str) -> None:
    """Give the instance a spot request whose status code is ``code`` (simulated on moto's
    backend: moto neither links instances to requests nor moves a request's status)."""
    image = next(iter(backend().amis))
    request = backend().request_spot_instances(
        price="1", image_id=image, count=1, spot_instance_type="one-time", valid_from=None,
        valid_until=None, launch_group=None, availability_zone_group=None, key_name="",
        security_groups=[], user_data=None, instance_type="t3.micro", placement=None,
        kernel_id=None, ramdisk_id=None, monitoring_enabled=False, subnet_id="", tags={},
        spot_fleet_id=None, instance_interruption_behaviour=None)[0]
    request.instance.terminate()  # only the request matters; its own instance is not ours
    request._status_code = code
    backend().get_instance(instance_id).spot_instance_request_id = request.id


def test_a_spot_instance_terminated_by_ec2_is_reclaimed(ec2: Any) -> None:
    instance_id = launch(ec2)
    reclaim(ec2, instance_id)

    found = AwsSpotInterruptions()(handle(instance_id=instance_id))

    assert found is not None and found.reclaimed
    assert instance_id in found.detail and "Server.SpotInstanceTermination" in found.detail


def test_a_stopped_spot_instance_is_reclaimed_and_found_by_its_name_tag(ec2: Any) -> None:
    instance_id = launch(ec2)
    ec2.stop_instances(InstanceIds=[instance_id])
    backend().get_instance(instance_id).state_reason = StateReason(
        "Server.SpotInstanceShutdown", "Server.SpotInstanceShutdown")

    found = AwsSpotInterruptions()(handle())  # no id recorded: the Name tag finds it

    assert found is not None and found.reclaimed


@pytest.mark.parametrize("code", ["instance-terminated-no-capacity",
                                  "instance-terminated-by-price", "marked-for-termination"])
def test_the_spot_request_status_says_reclaimed(ec2: Any, code: str) -> None:
    instance_id = launch(ec2)
    request_status(instance_id, code)

    found = AwsSpotInterruptions()(handle(instance_id=instance_id))

    assert found is not None and found.reclaimed
    assert code in found.detail


@pytest.mark.parametrize("crash", ["user", "Client.InstanceInitiatedShutdown",
                                   "Server.InternalError"])
def test_a_crashed_or_user_terminated_spot_instance_is_not_reclaimed(ec2: Any,
                                                                      crash: str) -> None:
    instance_id = launch(ec2)
    if crash == "user":
        ec2.terminate_instances(InstanceIds=[instance_id])  # Client.UserInitiatedShutdown
    else:
        reclaim(ec2, instance_id, code=crash)
    request_status(instance_id, "fulfilled")

    found = AwsSpotInterruptions()(handle(instance_id=instance_id))

    assert found is not None and not found.reclaimed
    assert instance_id in found.detail and "terminated" in found.detail


def test_a_running_spot_instance_is_not_reclaimed(ec2: Any) -> None:
    instance_id = launch(ec2)

    found = AwsSpotInterruptions()(handle(instance_id=instance_id))

    assert found is not None and not found.reclaimed
    assert f"{instance_id} running" in found.detail


def test_a_reclaim_the_group_already_replaced_is_still_reported(ec2: Any) -> None:
    """The replacement runs on the market that just took its predecessor back: still a reclaim
    (the agent moves the server to the next offer)."""
    old = launch(ec2)
    reclaim(ec2, old)
    backend().get_instance(old).launch_time -= timedelta(minutes=10)
    newer = launch(ec2)  # the auto-scaling group's replacement, running

    found = AwsSpotInterruptions()(handle(instance_id=newer))

    assert found is not None and found.reclaimed
    assert old in found.detail


def test_another_servers_reclaim_is_not_this_ones(ec2: Any) -> None:
    other = launch(ec2, name=resource_name("0123456789abcdef0123456789abcdef"))
    reclaim(ec2, other)

    found = AwsSpotInterruptions()(handle())

    assert found is not None and not found.reclaimed
    assert "no EC2 instance" in found.detail


@pytest.mark.parametrize("placement", [{"spot": False}, {"cloud": "gcp"}])
def test_on_demand_and_other_clouds_are_never_checked(placement: dict[str, Any]) -> None:
    asked: list[str] = []

    def client(region: str) -> Any:
        asked.append(region)
        raise AssertionError("no cloud call for a server that is not an aws spot server")

    found = AwsSpotInterruptions(client_factory=client)(handle(**placement))

    assert found is None and asked == []


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_endpoint_is_not_reclaimed_and_says_why(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}.items():
        monkeypatch.setenv(key, value)
    settings = {"endpoints": [{"ec2": f"http://127.0.0.1:{closed_port()}"}]}

    found = AwsSpotInterruptions(settings, timeout_s=1)(handle(instance_id="i-0abc"))

    assert found is not None and not found.reclaimed
    assert found.detail.startswith("spot interruption check failed: ")
    assert "127.0.0.1" in found.detail


def test_the_check_talks_to_the_endpoint_the_aws_provider_is_configured_with(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The provider settings the live tests give Terraform (3.x ``endpoints`` block list) send
    the check to a moto server, not to AWS."""
    for key, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}.items():
        monkeypatch.setenv(key, value)
    port = closed_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        url = f"http://127.0.0.1:{port}"
        ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=url)
        instance_id = launch(ec2)
        reclaim(ec2, instance_id)
        settings = {"endpoints": [{"ec2": url, "autoscaling": url}]}

        found = AwsSpotInterruptions(settings)(handle(instance_id=instance_id))
    finally:
        server.stop()

    assert found is not None and found.reclaimed, found


def test_the_ec2_endpoint_is_read_from_either_endpoints_form() -> None:
    assert ec2_endpoint({"endpoints": [{"ec2": "http://a"}]}) == "http://a"
    assert ec2_endpoint({"endpoints": {"ec2": "http://b", "s3": "http://c"}}) == "http://b"
    assert ec2_endpoint({"endpoints": [{"s3": "http://c"}]}) is None
    assert ec2_endpoint({}) is None


def test_terraform_refresh_reports_the_checks_verdict_and_nothing_without_one(
        make_provisioner: Callable[..., TerraformProvisioner],
        new_spec: Callable[..., DeploymentSpec], placement: Placement) -> None:
    created = make_provisioner()
    handle = created.create(new_spec(), placement)
    asked: list[tuple[str, list[str]]] = []

    def check(checked: Handle, instance_ids: Iterable[str] = ()) -> Interruption | None:
        asked.append((checked.name, list(instance_ids)))
        return Interruption(True, "EC2 instance i-1 reclaimed by AWS (a test verdict)")

    def no_client(region: str) -> Any:
        raise AssertionError("a server on the test cloud is never looked up in EC2")

    plain = created.refresh(handle)
    reported = make_provisioner(interruptions=check).refresh(handle)
    not_aws = make_provisioner(interruptions=AwsSpotInterruptions(client_factory=no_client))

    assert plain.exists and not plain.reclaimed
    assert reported.exists and reported.reclaimed
    assert reported.detail == f"{plain.detail}; EC2 instance i-1 reclaimed by AWS (a test verdict)"
    assert asked == [(handle.name, [plain.instance_id])]
    assert not_aws.refresh(handle) == plain
