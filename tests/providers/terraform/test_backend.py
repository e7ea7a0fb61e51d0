"""Backend settings per deployment."""

from __future__ import annotations

import pytest

from flowllama.providers.terraform import BackendConfig


def test_local_needs_no_settings() -> None:
    backend = BackendConfig()
    assert not backend.is_remote
    assert backend.render("fl-a") == {}


def test_each_deployment_gets_its_own_state_key() -> None:
    s3 = BackendConfig.s3("bucket", "eu-west-1", dynamodb_table="locks")
    assert s3.render("fl-a") == {
        "bucket": "bucket", "region": "eu-west-1", "use_lockfile": True,
        "dynamodb_table": "locks", "key": "flowllama/fl-a/terraform.tfstate",
    }
    assert BackendConfig.gcs("b").render("fl-a") == {"bucket": "b", "prefix": "flowllama/fl-a"}
    http = BackendConfig.http("http://127.0.0.1:8080/state/").render("fl-a")
    assert http["address"] == "http://127.0.0.1:8080/state/flowllama/fl-a"
    assert http["lock_address"] == http["unlock_address"] == f"{http['address']}/lock"


def test_unknown_backend_type_is_refused() -> None:
    with pytest.raises(ValueError, match="azurerm"):
        BackendConfig("azurerm")
