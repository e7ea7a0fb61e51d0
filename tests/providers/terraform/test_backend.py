"""Backend settings per deployment."""

from __future__ import annotations

import pytest

from flowllama.agent.composition import terraform_backend
from flowllama.providers.terraform import BackendConfig
from flowllama.settings import Settings


def test_local_needs_no_settings() -> None:
    backend = BackendConfig()
    assert not backend.is_remote
    assert backend.render("fl-a") == {}


def test_each_deployment_gets_its_own_state_key() -> None:
    s3 = BackendConfig.s3("bucket", "eu-west-1")
    assert s3.render("fl-a") == {
        "bucket": "bucket", "region": "eu-west-1", "use_lockfile": True,
        "key": "flowllama/fl-a/terraform.tfstate",
    }
    assert BackendConfig.gcs("b").render("fl-a") == {"bucket": "b", "prefix": "flowllama/fl-a"}
    http = BackendConfig.http("http://127.0.0.1:8080/state/").render("fl-a")
    assert http["address"] == "http://127.0.0.1:8080/state/flowllama/fl-a"
    assert http["lock_address"] == http["unlock_address"] == f"{http['address']}/lock"


def test_unknown_backend_type_is_refused() -> None:
    with pytest.raises(ValueError, match="azurerm"):
        BackendConfig("azurerm")


def _from_settings(monkeypatch: pytest.MonkeyPatch, config: str) -> BackendConfig:
    monkeypatch.setenv("FLOWLLAMA_TERRAFORM__BACKEND", "s3")
    monkeypatch.setenv("FLOWLLAMA_TERRAFORM__BACKEND_CONFIG", config)
    return terraform_backend(Settings())


def test_an_s3_backend_from_settings_locks_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    # The example of docs/terraform.md: no lock setting given, so S3-native locking is added.
    backend = _from_settings(
        monkeypatch, '{"bucket": "acme-state", "region": "us-east-1", "encrypt": true}')
    assert backend.render("fl-a") == {
        "bucket": "acme-state", "region": "us-east-1", "encrypt": True, "use_lockfile": True,
        "key": "flowllama/fl-a/terraform.tfstate",
    }


@pytest.mark.parametrize("lock", ['"dynamodb_table": "locks"', '"use_lockfile": false'])
def test_an_explicit_s3_lock_setting_is_kept(monkeypatch: pytest.MonkeyPatch, lock: str) -> None:
    rendered = _from_settings(monkeypatch, f'{{"bucket": "b", "region": "r", {lock}}}').render("x")
    if "dynamodb" in lock:
        assert rendered["dynamodb_table"] == "locks" and "use_lockfile" not in rendered
    else:
        assert rendered["use_lockfile"] is False


def test_other_backends_get_no_lock_setting() -> None:
    assert "use_lockfile" not in BackendConfig("gcs", {"bucket": "b"}).render("fl-a")
