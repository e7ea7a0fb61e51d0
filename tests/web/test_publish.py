"""``flowllama web publish`` against moto's S3 and CloudFront on 127.0.0.1: content types,
cache headers, the upload order, stale files removed only from the publish's own record, and
the invalidation."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from flowllama.cli import app
from flowllama.errors import InvalidInput
from flowllama.logging import redirected_output
from flowllama.web.export import MANIFEST_FILE, export_site
from flowllama.web.publish import (
    IMMUTABLE,
    NO_CACHE,
    RECORD,
    normalize_prefix,
    publish_site,
    upload_order,
)
from providers.terraform.live.aws_moto import MOTO_CREDENTIALS, moto_server

BUCKET = "flowllama-web"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any, str]]:
    """Fresh S3 bucket and CloudFront distribution on moto; boto3 pointed at it by env."""
    import boto3
    import httpx

    httpx.post(f"{moto_url}/moto-api/reset", timeout=30).raise_for_status()
    for name, value in {**MOTO_CREDENTIALS, "AWS_ENDPOINT_URL": moto_url,
                        "AWS_CONFIG_FILE": "/dev/null",
                        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}.items():
        monkeypatch.setenv(name, value)
    s3, cloudfront = boto3.client("s3"), boto3.client("cloudfront")
    s3.create_bucket(Bucket=BUCKET)
    distribution = cloudfront.create_distribution(DistributionConfig={
        "CallerReference": "test", "Comment": "", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{
            "Id": "s3", "DomainName": f"{BUCKET}.s3.amazonaws.com",
            "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "allow-all",
                                 "MinTTL": 0, "ForwardedValues": {
                                     "QueryString": False, "Cookies": {"Forward": "none"}},
                                 "TrustedSigners": {"Enabled": False, "Quantity": 0}}})
    yield s3, cloudfront, distribution["Distribution"]["Id"]


def _keys(s3: Any, prefix: str = "") -> set[str]:
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return {item["Key"] for item in listing.get("Contents", [])}


def test_publish_sets_types_and_cache_headers_and_replaces_stale_files(
        aws: tuple[Any, Any, str], tmp_path: Path) -> None:
    s3, cloudfront, distribution = aws
    site = tmp_path / "site"
    export_site(site, "https://old.example.com")
    first = publish_site(site, BUCKET, "", distribution)
    manifest = json.loads((site / MANIFEST_FILE).read_text())
    config_key = manifest["assets/config.js"]
    assert {"index.html", "app.html", config_key, manifest["assets/styles.css"]} <= _keys(s3)
    for key, ctype, cache in [
            ("index.html", "text/html; charset=utf-8", NO_CACHE),
            (config_key, "text/javascript; charset=utf-8", IMMUTABLE),
            (manifest["assets/styles.css"], "text/css; charset=utf-8", IMMUTABLE),
            (MANIFEST_FILE, "application/json", NO_CACHE)]:
        head = s3.head_object(Bucket=BUCKET, Key=key)
        assert (head["ContentType"], head["CacheControl"]) == (ctype, cache), key
    invalidation = cloudfront.get_invalidation(DistributionId=distribution,
                                               Id=first.invalidation_id)
    assert invalidation["Invalidation"]["InvalidationBatch"]["Paths"]["Items"] == ["/*"]

    s3.put_object(Bucket=BUCKET, Key="pr-7/index.html", Body=b"preview")  # not this publish's
    export_site(site, "https://new.example.com")  # config.js changes, so do the names above it
    second = publish_site(site, BUCKET, "", distribution)
    new_config = json.loads((site / MANIFEST_FILE).read_text())["assets/config.js"]
    assert new_config != config_key and new_config in second.uploaded
    assert config_key in second.deleted and config_key not in _keys(s3)
    body = s3.get_object(Bucket=BUCKET, Key=new_config)["Body"].read().decode()
    assert "new.example.com" in body
    assert "pr-7/index.html" in _keys(s3)  # another prefix's file is never stale here
    assert manifest["assets/styles.css"] in second.unchanged  # same bytes, not sent again
    assert second.invalidation_id and second.invalidation_id != first.invalidation_id
    listed = cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"]
    assert listed["Quantity"] == 2


def test_cli_publishes_a_preview_under_its_prefix_with_json(
        aws: tuple[Any, Any, str], tmp_path: Path) -> None:
    s3, _, _ = aws
    export_site(tmp_path / "site", "https://api.example.com")
    # The suite logs this process's lines (botocore's included) to stdout: not into --json's.
    with redirected_output(sys.__stderr__):
        result = CliRunner().invoke(app, ["web", "publish", str(tmp_path / "site"), "--bucket",
                                          BUCKET, "--prefix", "pr-12", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["prefix"] == "pr-12/" and report["invalidation_id"] is None
    assert {"pr-12/index.html", f"pr-12/{RECORD}"} <= _keys(s3, "pr-12/")
    assert _keys(s3, "index") == set()


def test_cli_reports_bad_input_clearly(aws: tuple[Any, Any, str], tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["web", "publish", str(tmp_path), "--bucket", BUCKET])
    assert result.exit_code == 2 and "not an exported site" in result.output
    export_site(tmp_path / "site", "https://api.example.com")
    result = CliRunner().invoke(app, ["web", "publish", str(tmp_path / "site"), "--bucket",
                                      "no-such-bucket"])
    assert result.exit_code == 1 and "NoSuchBucket" in result.output


def test_prefix_and_order_rules() -> None:
    assert normalize_prefix("/pr-12/") == "pr-12/" and normalize_prefix("") == ""
    for bad in ("../x", "a//b", "a b"):
        with pytest.raises(InvalidInput):
            normalize_prefix(bad)
    order = upload_order(["index.html", "asset-manifest.json", "assets/a.0123456789ab.js"])
    assert order == ["assets/a.0123456789ab.js", "asset-manifest.json", "index.html"]


class Recording:
    """The real moto-backed S3 client, recording the order of writes and deletes."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[tuple[str, str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def put_object(self, **kwargs: Any) -> Any:
        self.calls.append(("put", kwargs["Key"]))
        return self.client.put_object(**kwargs)

    def delete_objects(self, **kwargs: Any) -> Any:
        self.calls.extend(("delete", o["Key"]) for o in kwargs["Delete"]["Objects"])
        return self.client.delete_objects(**kwargs)


def test_new_files_go_up_before_pages_and_stale_files_go_last(
        aws: tuple[Any, Any, str], tmp_path: Path) -> None:
    s3, cloudfront, distribution = aws
    site = tmp_path / "site"
    export_site(site, "https://old.example.com")
    publish_site(site, BUCKET, "", distribution)
    export_site(site, "https://new.example.com")
    recording = Recording(s3)
    publish_site(site, BUCKET, "", distribution, s3=recording, cloudfront=cloudfront)
    kinds = [kind for kind, _ in recording.calls]
    puts = [key for kind, key in recording.calls if kind == "put"]
    assert "delete" in kinds and kinds.index("delete") > max(
        i for i, kind in enumerate(kinds) if kind == "put" and recording.calls[i][1] != RECORD)
    pages = [i for i, key in enumerate(puts) if key.endswith(".html")]
    assets = [i for i, key in enumerate(puts) if key.startswith("assets/")]
    assert pages and assets and max(assets) < min(pages)
