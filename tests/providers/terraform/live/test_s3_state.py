"""Deployment state on an S3 backend configured in settings, for real (Terraform engine, S3 on
moto): the state lands in the bucket under the deployment's key, and every state-changing run
takes Terraform's S3-native lock (``use_lockfile``, which FlowLlama adds by default).

The stack is the provider-free ``terraform_data`` test stack: what is under test is the backend,
and it applies in seconds. S3 calls go through the capacity proxy, which records them.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from flowllama.agent.composition import terraform_backend
from flowllama.providers import DeploymentSpec, Placement
from flowllama.providers.terraform import Engine, TerraformProvisioner, terraform_data_stack
from flowllama.settings import Settings
from providers.terraform.conftest import TEST_STACK_DIR
from providers.terraform.live.aws_moto import LIVE, REGION, Moto

pytestmark = pytest.mark.slow

STATE_BUCKET = "flowllama-state-live"


def test_state_lands_in_the_s3_bucket_and_every_run_takes_the_lock(
        moto: Moto, live_engine: Engine, tmp_path: Path) -> None:
    s3 = moto.client("s3")
    s3.create_bucket(Bucket=STATE_BUCKET)
    # Exactly what an operator sets (FLOWLLAMA_TERRAFORM__BACKEND_CONFIG), minus the moto flags'
    # purpose: no lock setting is given.
    settings = Settings(data_dir=tmp_path, terraform={  # type: ignore[arg-type]
        "backend": "s3",
        "backend_config": {"bucket": STATE_BUCKET, "region": REGION, "encrypt": True,
                           "use_path_style": True, "skip_credentials_validation": True,
                           "skip_requesting_account_id": True, "skip_metadata_api_check": True,
                           "skip_region_validation": True}})
    backend = terraform_backend(settings)
    assert backend.settings["use_lockfile"] is True
    provisioner = TerraformProvisioner(
        tmp_path / "terraform", [terraform_data_stack(TEST_STACK_DIR)], engine=live_engine,
        backend=backend, options=LIVE,
        env={**moto.env, "AWS_ENDPOINT_URL_S3": moto.proxy.url})
    spec = DeploymentSpec(deployment_id=uuid.uuid4().hex, user_id="u1", name="s3 state",
                          model="llama3.2:1b", context_size=4096)
    seen = len(moto.proxy.requests)
    handle = provisioner.create(spec, Placement(cloud="test", region="local",
                                                instance_type="test.small"))
    key = f"flowllama/{handle.name}/terraform.tfstate"
    try:
        state = json.loads(s3.get_object(Bucket=STATE_BUCKET, Key=key)["Body"].read())
        assert [r["type"] for r in state["resources"] if r["mode"] == "managed"]
        lock = f"/{STATE_BUCKET}/{key}.tflock"
        calls = [(method, path.split("?", 1)[0]) for method, path in moto.proxy.requests[seen:]]
        assert ("PUT", lock) in calls, "the apply must take the S3 lock"
        assert ("DELETE", lock) in calls, "and release it"
        assert calls.index(("PUT", lock)) < calls.index(("PUT", f"/{STATE_BUCKET}/{key}"))
        listed = s3.list_objects_v2(Bucket=STATE_BUCKET, Prefix=f"{key}.tflock")
        assert listed.get("KeyCount", 0) == 0, "no lock is left behind"
    finally:
        provisioner.destroy(handle)
    state = json.loads(s3.get_object(Bucket=STATE_BUCKET, Key=key)["Body"].read())
    assert [r for r in state["resources"] if r["mode"] == "managed"] == []
