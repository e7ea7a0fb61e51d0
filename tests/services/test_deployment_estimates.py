"""The estimate a deployment is created with: ranked cloud offers, or local sizing plus the
machine's capacity verdict; every refusal names its field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from flowllama.domain.deployments import DeploymentCreate
from flowllama.errors import InvalidInput
from flowllama.services.catalog import CatalogService
from flowllama.services.deployment_estimates import DeploymentEstimator, configured_clouds
from flowllama.settings import CloudSettings, CloudsSettings


@pytest.fixture
def catalog(tmp_path: Path, tiny_model_file: Path) -> CatalogService:
    return CatalogService(tmp_path, tiny_model_file.parent)


def _body(**changes: Any) -> DeploymentCreate:
    fields: dict[str, Any] = {"name": "chat", "model": "llama3.1:8b", "context_size": 8192}
    return DeploymentCreate(**{**fields, **changes})


def test_cloud_estimate_ranks_offers_of_the_pinned_cloud(catalog: CatalogService) -> None:
    estimate = DeploymentEstimator(catalog)(_body(cloud="gcp"))
    clouds = {offer["cloud"] for offer in estimate["candidates"]}
    assert clouds == {"gcp"}
    prices = [offer["price_per_hour"] for offer in estimate["candidates"]]
    assert estimate["recommended"]["price_per_hour"] == min(prices)


def test_region_pin_is_honoured(catalog: CatalogService) -> None:
    estimate = DeploymentEstimator(catalog)(_body(cloud="aws", region="us-west-2"))
    assert {offer["region"] for offer in estimate["candidates"]} == {"us-west-2"}


def test_local_estimate_sizes_the_file_and_asks_the_machine(catalog: CatalogService) -> None:
    asked: list[str] = []
    estimator = DeploymentEstimator(catalog, lambda body: asked.append(body.model))
    estimate = estimator(_body(model="local/tiny", context_size=512, cloud="local"))
    assert asked == ["local/tiny"]
    assert estimate["candidates"][0]["cloud"] == "local"
    assert estimate["requirements"]["min_ram_bytes"] > 0
    assert estimate["recommended"]["price_per_hour"] == 0.0


def test_local_refusal_from_the_machine_is_passed_on(catalog: CatalogService) -> None:
    def refuse(_body: DeploymentCreate) -> None:
        raise InvalidInput("needs 40 GiB, 2 GiB free", field="context_size",
                           code="insufficient_memory")

    with pytest.raises(InvalidInput) as caught:
        DeploymentEstimator(catalog, refuse)(_body(model="local/tiny", context_size=512,
                                                   cloud="local"))
    assert caught.value.code == "insufficient_memory"


@pytest.mark.parametrize(("changes", "field"), [
    ({"cloud": "local", "region": "us-east-1"}, "region"),
    ({"cloud": "local", "instance_type": "g6.xlarge"}, "instance_type"),
    ({"gpu": "H100", "instance_type": "g6.xlarge"}, "instance_type"),
    ({"model": "local/missing", "cloud": "local"}, "model"),
])
def test_refusals_name_the_field(catalog: CatalogService, changes: dict[str, Any],
                                 field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        DeploymentEstimator(catalog)(_body(**changes))
    assert caught.value.field == field


@pytest.mark.parametrize(("changes", "configured", "field", "code"), [
    ({"cloud": "aws"}, {"gcp": ()}, "cloud", "cloud_not_configured"),
    ({"cloud": "auto"}, {}, "cloud", "cloud_not_configured"),
    ({"cloud": "aws", "region": "eu-west-1"}, {"aws": ("us-east-1",)}, "region",
     "region_not_configured"),
])
def test_a_cloud_or_region_not_configured_is_refused_with_its_field(
        catalog: CatalogService, changes: dict[str, Any], configured: dict[str, tuple[str, ...]],
        field: str, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        DeploymentEstimator(catalog, clouds=configured)(_body(**changes))
    assert (caught.value.field, caught.value.code) == (field, code)


def test_auto_prices_only_the_configured_clouds_and_regions(catalog: CatalogService) -> None:
    estimator = DeploymentEstimator(catalog, clouds={"aws": ("us-east-1", "us-west-2")})
    estimate = estimator(_body(cloud="auto"))
    assert {(o["cloud"], o["region"]) for o in estimate["candidates"]} <= {
        ("aws", "us-east-1"), ("aws", "us-west-2")}


def test_configured_clouds_come_from_the_enabled_settings() -> None:
    settings = CloudsSettings(aws=CloudSettings(enabled=True, regions=["us-east-1"]),
                              gcp=CloudSettings(regions=["us-central1"]),
                              ollama_sha256="0" * 64)
    assert configured_clouds(settings) == {"aws": ("us-east-1",)}


def test_an_enabled_cloud_needs_the_ollama_checksum() -> None:
    with pytest.raises(ValidationError, match="FLOWLLAMA_CLOUDS__OLLAMA_SHA256"):
        CloudsSettings(aws=CloudSettings(enabled=True))
    assert CloudsSettings().configured() == {}  # no cloud, no checksum needed
