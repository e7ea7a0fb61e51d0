from __future__ import annotations

from pathlib import Path

from flowllama.devtools.hcl_files import labelled_blocks, literal, load_hcl
from flowllama.devtools.moto_override import ENDPOINT_KEYS, write_moto_override

URL = "http://127.0.0.1:5000"


def _providers(path: Path) -> list[dict[str, object]]:
    return [literal(body) for (name,), body in labelled_blocks(load_hcl(path), "provider", 1)]


def test_one_override_per_aws_provider_alias(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'provider "aws" {\n  region = "us-east-1"\n}\n'
        'provider "aws" {\n  alias  = "secondary"\n  region = "eu-west-1"\n}\n'
        'provider "google" {\n  project = "p"\n}\n')
    written = write_moto_override(tmp_path, URL)
    assert written.name == "moto_override.tf"
    blocks = _providers(written)
    assert [b.get("alias") for b in blocks] == [None, "secondary"]
    for block in blocks:
        assert "region" not in block  # the root's own region is kept
        assert block["skip_credentials_validation"] is True
        assert block["s3_force_path_style"] is True
        assert block["endpoints"] == [dict.fromkeys(ENDPOINT_KEYS, URL)]
    assert "elb" in ENDPOINT_KEYS  # ELBv2 in hashicorp/aws 3.39


def test_a_root_without_an_aws_provider_block_gets_a_plain_one(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('module "m" {\n  source = "../.."\n}\n')
    written = write_moto_override(tmp_path, URL, region="eu-west-1")
    assert written.name == "moto_provider.tf"
    [block] = _providers(written)
    assert block["region"] == "eu-west-1" and block["access_key"] == "test"
