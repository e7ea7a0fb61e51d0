"""Price catalog: the packaged snapshot, live AWS (moto + a recorded Price List page), live GCP
(recorded Cloud Billing SKUs) and the refresh/fallback logic."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from flowllama.catalog import refresh
from flowllama.catalog.live_aws import fetch_aws_prices, on_demand_prices, parse_price_list_item
from flowllama.catalog.live_gcp import fetch_gcp_prices, parse_rates, reprice, sku_to_dict
from flowllama.catalog.prices import (
    CloudStatus,
    LivePricesUnavailable,
    PriceCatalog,
    load_snapshot,
    read_price_file,
    write_price_file,
)
from flowllama.catalog.snapshot import build_snapshot

FIXTURES = Path(__file__).parent / "fixtures"
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
PACKAGED = Path(__file__).resolve().parents[2] / "src/flowllama/catalog/data/prices.json.gz"


def _find(cloud: str, instance_type: str, region: str, **match: Any) -> list[Any]:
    return [row for row in load_snapshot().rows
            if (row.cloud, row.instance_type, row.region) == (cloud, instance_type, region)
            and all(getattr(row, key) == value for key, value in match.items())]


def test_snapshot_is_small_dated_and_complete() -> None:
    snapshot = load_snapshot()
    assert PACKAGED.stat().st_size < 2_000_000
    assert snapshot.source == "snapshot" and snapshot.as_of == "2026-07-30"
    gpus = {row.gpu for row in snapshot.rows if row.gpu}
    assert {"T4", "L4", "A10G", "L40S", "A100", "A100-80GB", "H100", "V100"} <= gpus
    assert {"aws", "gcp"} == {row.cloud for row in snapshot.rows}
    assert "us-east-1" in snapshot.regions()["aws"]


def test_gcp_a2_price_includes_its_gpu() -> None:
    # Cross-check from shared/data/README.md: VM 0.73948 + A100 2.93391.
    (row,) = _find("gcp", "a2-highgpu-1g", "us-central1")
    assert (row.gpu, row.gpu_count, row.on_demand, row.spot) == ("A100", 1, 3.673385, 1.92802)


def test_gcp_n1_with_attached_gpu_is_vm_plus_gpu() -> None:
    (vm,) = _find("gcp", "n1-standard-8", "us-central1", gpu=None)
    with_t4 = _find("gcp", "n1-standard-8", "us-central1", gpu="T4", gpu_count=1)
    assert with_t4, "expected an n1-standard-8 + 1xT4 offer"
    for row in with_t4:
        assert row.zone and row.zone.startswith("us-central1-")
        assert row.on_demand == pytest.approx(vm.on_demand + 0.35)
    # Google caps V100 at 12 vCPUs per GPU: no n1-standard-16 with one V100.
    assert not _find("gcp", "n1-standard-16", "us-central1", gpu="V100", gpu_count=1)


def test_aws_spot_is_per_zone() -> None:
    rows = _find("aws", "g5.xlarge", "us-east-1")
    assert len({row.zone for row in rows}) > 1
    assert len({row.on_demand for row in rows}) == 1


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="shared/data not beside the checkout")
def test_snapshot_is_reproducible_from_shared_data() -> None:
    rebuilt = build_snapshot(SHARED_DATA)
    assert rebuilt.rows == load_snapshot().rows


def _pricing_client() -> Any:
    return boto3.client("pricing", region_name="us-east-1")


def test_parse_recorded_get_products_page() -> None:
    page = json.loads((FIXTURES / "aws_get_products_g4dn_xlarge.json").read_text())
    parsed = [parse_price_list_item(item) for item in page["PriceList"]]
    assert parsed == [(("g4dn.xlarge", "us-east-1"), 0.526), (("g4dn.xlarge", "us-west-2"), 0.526)]


def test_on_demand_prices_through_a_stubbed_pricing_client(aws_credentials: None) -> None:
    client = _pricing_client()
    page = json.loads((FIXTURES / "aws_get_products_g4dn_xlarge.json").read_text())
    with Stubber(client) as stub:
        stub.add_response("get_products", page)
        prices = on_demand_prices(client, ["g4dn.xlarge"])
    assert prices == {("g4dn.xlarge", "us-east-1"): 0.526, ("g4dn.xlarge", "us-west-2"): 0.526}


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def test_aws_live_prices_with_moto_spot_history(aws_credentials: None) -> None:
    rows = _find("aws", "g4dn.xlarge", "us-east-1")
    page = json.loads((FIXTURES / "aws_get_products_g4dn_xlarge.json").read_text())
    pricing = _pricing_client()
    with mock_aws(), Stubber(pricing) as stub:
        stub.add_response("get_products", page)

        def factory(service: str, region: str) -> Any:
            return pricing if service == "pricing" else boto3.client(service, region_name=region)

        updated, status = fetch_aws_prices(rows, client_factory=factory)
    assert status.source == "live"
    assert all(row.on_demand == 0.526 for row in updated)
    # moto answers spot history for its own AZs; it names them use1-azN, like the snapshot.
    assert any(new.spot != old.spot for new, old in zip(updated, rows, strict=True))


def test_aws_pricing_error_means_unavailable(aws_credentials: None) -> None:
    client = _pricing_client()
    with Stubber(client) as stub:
        stub.add_client_error("get_products", "AccessDeniedException")
        with pytest.raises(LivePricesUnavailable):
            fetch_aws_prices(_find("aws", "g4dn.xlarge", "us-east-1"),
                             client_factory=lambda service, region: client)


def _skus() -> list[dict[str, Any]]:
    return list(json.loads((FIXTURES / "gcp_list_skus_compute.json").read_text())["skus"])


class FakeCatalogClient:
    """Stands in for ``billing_v1.CloudCatalogClient``, answering recorded SKUs."""

    def __init__(self, skus: list[Any] | None = None, error: Exception | None = None) -> None:
        self.skus = skus if skus is not None else _skus()
        self.error = error
        self.parents: list[str] = []

    def list_skus(self, *, parent: str) -> list[Any]:
        self.parents.append(parent)
        if self.error:
            raise self.error
        return self.skus


def test_gcp_rates_from_recorded_skus() -> None:
    rates = parse_rates(_skus())
    assert rates[("core", "n1", "us-central1", "on_demand")] == pytest.approx(0.031611)
    assert rates[("ram", "n1", "us-central1", "spot")] == pytest.approx(0.000892)
    assert rates[("gpu", "T4", "us-central1", "on_demand")] == pytest.approx(0.35)
    assert rates[("gpu", "A100-80GB", "us-central1", "on_demand")] == pytest.approx(3.927823)
    assert rates[("gpu", "L4", "us-central1", "on_demand")] == pytest.approx(0.56004)  # not 1yr


def test_gcp_reprice_n1_with_t4_and_g2() -> None:
    rows = [*_find("gcp", "n1-standard-4", "us-central1", gpu="T4", gpu_count=1)[:1],
            *_find("gcp", "g2-standard-4", "us-central1"),
            *_find("gcp", "e2-micro", "us-central1")]
    updated, repriced, eligible = reprice(rows, parse_rates(_skus()))
    n1, g2, micro = updated
    assert n1.on_demand == pytest.approx(4 * 0.031611 + 15 * 0.004237 + 0.35)
    assert n1.spot == pytest.approx(4 * 0.006655 + 15 * 0.000892 + 0.14)
    assert g2.on_demand == pytest.approx(4 * 0.024988 + 16 * 0.002928 + 0.56004)
    assert g2.spot == rows[1].spot  # no spot G2 SKU recorded: the snapshot price stays
    assert micro == rows[2]  # shared-core: never repriced
    assert (repriced, eligible) == (2, 2)


def test_gcp_fetch_uses_compute_engine_service() -> None:
    client = FakeCatalogClient()
    rows = _find("gcp", "g2-standard-4", "us-central1")
    updated, status = fetch_gcp_prices(rows, client=client)
    assert client.parents == ["services/6F81-5844-456A"]
    assert status.source == "live"
    assert updated[0].on_demand != rows[0].on_demand


def test_gcp_unreachable_raises_unavailable() -> None:
    client = FakeCatalogClient(error=OSError("network is unreachable"))
    with pytest.raises(LivePricesUnavailable, match="unreachable"):
        fetch_gcp_prices(_find("gcp", "g2-standard-4", "us-central1"), client=client)


def test_gcp_proto_skus_convert() -> None:
    billing = pytest.importorskip("google.cloud.billing_v1")
    protos = [billing.Sku.from_json(json.dumps(sku)) for sku in _skus()]
    assert parse_rates(sku_to_dict(p) for p in protos) == parse_rates(_skus())


def test_refresh_falls_back_to_the_snapshot_per_cloud(fresh_price_cache: Path) -> None:
    def no_aws(service: str, region: str) -> Any:
        raise LivePricesUnavailable("no AWS credentials configured")

    catalog = refresh.refresh_prices(data_dir=fresh_price_cache, aws_client_factory=no_aws,
                                     gcp_client=FakeCatalogClient(error=OSError("offline")))
    assert catalog.source == "snapshot"
    assert "no AWS credentials" in catalog.clouds["aws"].detail
    assert "offline" in catalog.clouds["gcp"].detail
    assert len(catalog.rows) == len(load_snapshot().rows)


def test_refresh_stores_mixed_prices_for_every_process(fresh_price_cache: Path) -> None:
    def no_aws(service: str, region: str) -> Any:
        raise LivePricesUnavailable("no AWS credentials configured")

    catalog = refresh.refresh_prices(data_dir=fresh_price_cache, aws_client_factory=no_aws,
                                     gcp_client=FakeCatalogClient())
    assert catalog.source == "mixed"
    assert catalog.clouds["gcp"].source in {"live", "mixed"}
    assert catalog.clouds["aws"].source == "snapshot"
    stored = read_price_file(refresh.price_cache_path(fresh_price_cache))
    assert stored.rows == catalog.rows
    refresh.clear_cache()  # as another process would start
    assert refresh.current_prices(data_dir=fresh_price_cache).source == "mixed"


def test_refresh_only_requested_clouds(fresh_price_cache: Path) -> None:
    catalog = refresh.refresh_prices(["gcp"], data_dir=fresh_price_cache,
                                     gcp_client=FakeCatalogClient())
    assert catalog.clouds["aws"].detail == "not refreshed (not requested)"


def test_current_prices_default_to_the_snapshot(fresh_price_cache: Path) -> None:
    assert refresh.current_prices(data_dir=fresh_price_cache) is load_snapshot()


def test_corrupt_refreshed_file_is_ignored(fresh_price_cache: Path) -> None:
    path = refresh.price_cache_path(fresh_price_cache)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not gzip")
    assert refresh.current_prices(data_dir=fresh_price_cache) is load_snapshot()


def _without_cloud_sdks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the optional cloud SDKs unimportable, as on a default install."""
    for module in ("boto3", "botocore", "botocore.exceptions", "google", "google.cloud",
                   "google.cloud.billing_v1"):
        monkeypatch.setitem(sys.modules, module, None)


def test_refresh_without_any_sdk_keeps_the_stored_prices(
        fresh_price_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_aws(service: str, region: str) -> Any:
        raise LivePricesUnavailable("no AWS credentials configured")

    refresh.refresh_prices(data_dir=fresh_price_cache, aws_client_factory=no_aws,
                           gcp_client=FakeCatalogClient())  # an earlier, partly live refresh
    path = refresh.price_cache_path(fresh_price_cache)
    before = path.read_bytes()
    refresh.clear_cache()
    _without_cloud_sdks(monkeypatch)
    catalog = refresh.refresh_prices(data_dir=fresh_price_cache, force=True)
    assert path.read_bytes() == before
    assert catalog.source == "mixed"  # what is stored, not a fresh snapshot copy
    assert "boto3 is not installed" in catalog.clouds["aws"].detail
    assert "google-cloud-billing is not installed" in catalog.clouds["gcp"].detail
    assert "kept the stored prices" in catalog.clouds["gcp"].detail


def test_a_refresh_by_another_process_is_seen_at_once(fresh_price_cache: Path) -> None:
    before = refresh.current_prices(data_dir=fresh_price_cache)
    assert refresh.current_prices(data_dir=fresh_price_cache) is before  # cached
    refreshed = PriceCatalog(before.rows[:10], "2026-12-01", "live",
                             {"aws": CloudStatus("live", "2026-12-01")})
    write_price_file(refreshed, refresh.price_cache_path(fresh_price_cache))  # no clear_cache
    now = refresh.current_prices(data_dir=fresh_price_cache)
    assert (now.as_of, len(now.rows)) == ("2026-12-01", 10)
    assert refresh.current_prices(data_dir=fresh_price_cache) is now
