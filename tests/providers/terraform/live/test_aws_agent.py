"""A cloud deployment end to end through a real ``flowllama up``: the API accepts ``cloud:
aws``, the agent applies the real aws-ollama stack against moto (reading the session's
foundation from remote state), falls back to the next offer when AWS refuses capacity, shows
the instance, survives a SIGKILL in the middle of the apply without a second server, and
deletes down to nothing tagged."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from flowllama.db.session import Database
from flowllama.db.tables import Instance
from processes import TIMEOUT_S, Api, flowllama_up
from providers.terraform.live.aws_moto import REGION, TEST_OLLAMA_SHA256, Foundation, Moto, tagged

pytestmark = pytest.mark.slow

BODY = {"name": "chat", "model": "llama3.1:8b", "context_size": 8192, "cloud": "aws",
        "region": REGION, "instance_type": "g6.xlarge"}


def _env(moto: Moto, foundation: Foundation, ami: str) -> dict[str, str]:
    return {
        "FLOWLLAMA_CLOUDS__AWS__ENABLED": "true",
        "FLOWLLAMA_CLOUDS__AWS__REGIONS": json.dumps([REGION]),
        "FLOWLLAMA_CLOUDS__AWS__ENVIRONMENT": "test",
        "FLOWLLAMA_CLOUDS__AWS__IMAGE_ID": ami,
        "FLOWLLAMA_CLOUDS__OLLAMA_SHA256": TEST_OLLAMA_SHA256,
        "FLOWLLAMA_TERRAFORM__BACKEND": "http",
        "FLOWLLAMA_TERRAFORM__BACKEND_CONFIG": json.dumps(dict(foundation.backend.settings)),
        "FLOWLLAMA_TERRAFORM__PROVIDER_SETTINGS": json.dumps(moto.provider_settings),
        "FLOWLLAMA_MONITOR__INTERVAL_S": "3600",  # no Ollama answers in moto; keep heals out
        "FLOWLLAMA_AGENT__WORKERS": "1",
        "FLOWLLAMA_AGENT__POLL_S": "0.2",
        "FLOWLLAMA_AGENT__LEASE_S": "10",
        "FLOWLLAMA_QUEUE__LEASE_S": "10",
    }


def test_aws_deployment_falls_back_on_capacity_serves_and_deletes_to_nothing(
        moto: Moto, foundation: Foundation, ami: str, tmp_path: Path) -> None:
    moto.proxy.instance_types, moto.proxy.refusals = {"g6.xlarge"}, 1
    with flowllama_up(tmp_path, _env(moto, foundation, ami)) as up:
        api = Api(up.base_url)
        created = api.http.post("/api/deployments", json={**BODY, "spot_tolerance": "high"})
        assert created.status_code == 202, created.text
        candidates = created.json()["estimate"]["candidates"]
        assert [c["spot"] for c in candidates[:2]] == [True, False], "spot first, then on-demand"
        deployment_id = created.json()["id"]
        body = api.wait_status(deployment_id, "running")

        assert moto.proxy.refused == ["g6.xlarge"]
        events = api.http.get(f"/api/deployments/{deployment_id}/events").json()
        notes = [e for e in events if e["reason"].startswith("no capacity on g6.xlarge spot")]
        assert len(notes) == 1 and "InsufficientInstanceCapacity" in notes[0]["data"]["error"]
        assert body["placement"] == {"cloud": "aws", "region": REGION, "zone": None,
                                     "instance_type": "g6.xlarge", "spot": False,
                                     "price_per_hour": candidates[1]["price_per_hour"]}
        instance = body["instances"][-1]
        running = _servers(moto, deployment_id)
        assert [i["InstanceId"] for i in running] == [instance["server_id"]]
        # Users get the gateway; the gateway's upstream is the server's private address.
        assert (body["endpoint_url"], body["endpoint_model"]) == (f"{up.base_url}/v1", "chat")
        assert instance["private_ip"] is None and instance["endpoint_url"] is None
        assert _upstream(up.data_dir) == f"http://{running[0]['PrivateIpAddress']}:11434"

        assert api.http.delete(f"/api/deployments/{deployment_id}").status_code == 202
        _wait_gone(api, deployment_id)
    assert tagged(moto, "flowllama:deployment", deployment_id) == []


def _upstream(data_dir: Path) -> str | None:
    """The live instance's endpoint as the gateway reads it (operators' view)."""
    database = Database(f"sqlite:///{data_dir / 'flowllama.db'}")
    try:
        with database.session() as session:
            return session.scalar(select(Instance.endpoint_url).where(
                Instance.terminated_at.is_(None)))
    finally:
        database.dispose()


def test_agent_killed_in_the_middle_of_the_apply_leaves_exactly_one_server(
        moto: Moto, foundation: Foundation, ami: str, tmp_path: Path) -> None:
    moto.proxy.refusals = 0
    env = _env(moto, foundation, ami)
    with flowllama_up(tmp_path, env) as up:
        api = Api(up.base_url)
        created = api.http.post("/api/deployments", json={**BODY, "name": "killed"})
        assert created.status_code == 202, created.text
        deployment_id = created.json()["id"]
        _wait_for_apply(moto, deployment_id)
        up.process.kill()  # SIGKILL: Terraform, in its own session, finishes the apply
        up.process.wait(10)
    with flowllama_up(tmp_path, env) as up:
        api = Api(up.base_url, register=False)
        api.wait_status(deployment_id, "running")
        assert len(_servers(moto, deployment_id)) == 1
        assert api.http.delete(f"/api/deployments/{deployment_id}").status_code == 202
        _wait_gone(api, deployment_id)
    assert tagged(moto, "flowllama:deployment", deployment_id) == []


def _servers(moto: Moto, deployment_id: str) -> list[dict[str, Any]]:
    """The deployment's live EC2 instances (the auto-scaling group copies its tags to them)."""
    reservations = moto.client("ec2").describe_instances(Filters=[
        {"Name": "tag:flowllama:deployment", "Values": [deployment_id]},
        {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]
    return [i for r in reservations for i in r["Instances"]]


def _wait_for_apply(moto: Moto, deployment_id: str) -> None:
    """Until the apply has created the deployment's first resource (its security group)."""
    ec2 = moto.client("ec2")
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        groups = ec2.describe_security_groups(Filters=[
            {"Name": "tag:flowllama:deployment", "Values": [deployment_id]}])["SecurityGroups"]
        if groups:
            return
        time.sleep(0.2)
    raise AssertionError("the apply never started")


def _wait_gone(api: Api, deployment_id: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        response = api.http.get(f"/api/deployments/{deployment_id}")
        if response.status_code == 404:
            return
        assert response.json()["status"] != "failed", response.json()["status_message"]
        time.sleep(0.5)
    raise AssertionError("the deployment was never deleted")
