"""Points a Terraform root's AWS provider(s) at a moto server, without editing its code.

:func:`write_moto_override` writes ``moto_override.tf`` into a (temporary copy of a) root: a
Terraform override file whose ``provider "aws"`` blocks merge into the root's own, one per alias,
adding dummy credentials, the skip flags and an ``endpoints`` block for every service moto
answers. The keys are those of hashicorp/aws 3.39 (the offline provider): ELBv2 is ``elb``
there, and ``s3_force_path_style`` is the v3 name. A root without an ``aws`` provider block gets
``moto_provider.tf`` with a plain one instead (an override needs something to merge into).
"""

from __future__ import annotations

import json
from pathlib import Path

from flowllama.devtools.hcl_files import labelled_blocks, literal, load_hcl, tf_files

# Services moto's server answers that our modules use (keys as hashicorp/aws 3.39 names them).
ENDPOINT_KEYS = ("autoscaling", "cloudfront", "cloudwatch", "cloudwatchlogs", "ec2", "eks", "elb",
                 "iam", "kms", "s3", "sts", "ssm", "acm", "route53", "secretsmanager")
SETTINGS = {
    "access_key": "test",
    "secret_key": "test",
    "s3_force_path_style": True,
    "skip_credentials_validation": True,
    "skip_metadata_api_check": True,
    "skip_requesting_account_id": True,
    "skip_get_ec2_platforms": True,
    "skip_region_validation": True,
}


def aws_aliases(directory: Path) -> list[str | None]:
    """The ``alias`` of each ``provider "aws"`` block in a root (None for the default one)."""
    aliases: list[str | None] = []
    for path in tf_files(directory):
        for (name,), body in labelled_blocks(load_hcl(path), "provider", 1):
            if name == "aws":
                alias = literal(body.get("alias"))
                aliases.append(alias if isinstance(alias, str) else None)
    return aliases


def provider_block(endpoint: str, alias: str | None = None, region: str | None = None) -> str:
    """One ``provider "aws"`` block aimed at ``endpoint`` (values JSON-quoted: HCL accepts
    JSON string syntax)."""
    lines = ['provider "aws" {']
    if alias is not None:
        lines.append(f"  alias = {json.dumps(alias)}")
    if region is not None:
        lines.append(f"  region = {json.dumps(region)}")
    lines += [f"  {key} = {json.dumps(value)}" for key, value in SETTINGS.items()]
    lines.append("  endpoints {")
    lines += [f"    {key} = {json.dumps(endpoint)}" for key in ENDPOINT_KEYS]
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def write_moto_override(directory: Path, endpoint: str, region: str = "us-east-1") -> Path:
    """Write the override (or, with no aws provider block, a provider file) and return it."""
    aliases = aws_aliases(directory)
    if not aliases:
        path = directory / "moto_provider.tf"
        path.write_text(provider_block(endpoint, region=region), encoding="utf-8")
        return path
    path = directory / "moto_override.tf"
    path.write_text("\n".join(provider_block(endpoint, alias) for alias in aliases),
                    encoding="utf-8")
    return path
