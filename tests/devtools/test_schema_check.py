"""The schema check against the real current aws provider schema (npm @cdktf/provider-aws in
the tools cache), on small Terraform files with known mistakes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flowllama.devtools.provider_schema import ProviderSchema, provider_schema
from flowllama.devtools.schema_check import check_directory, untagged
from flowllama.devtools.tools_cache import ToolUnavailable


@pytest.fixture(scope="module")
def aws() -> ProviderSchema:
    try:
        return provider_schema("aws")
    except ToolUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"required under CI: {exc}")
        pytest.skip(str(exc))


def _findings(tmp_path: Path, aws: ProviderSchema, code: str) -> list[str]:
    (tmp_path / "main.tf").write_text(code)
    return [f"{f.address}: {f.message}" for f in check_directory(tmp_path, lambda _p: aws)]


GOOD = '''
resource "aws_launch_template" "this" {
  count       = var.on ? 1 : 0
  name_prefix = "x-"
  depends_on  = [aws_vpc.this]
  metadata_options {
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  dynamic "tag_specifications" {
    for_each = ["instance", "volume"]
    content {
      resource_type = tag_specifications.value
      tags          = var.tags
    }
  }
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc" "this" {
  for_each   = toset(["a"])
  cidr_block = "10.0.0.0/16"
  provider   = aws.secondary
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = "arn"
  dynamic "default_action" {
    for_each = [1]
    content {
      type = "forward"
    }
  }
}

data "aws_iam_policy_document" "read" {
  statement {
    actions   = ["s3:GetObject"]
    resources = ["*"]
  }
}

resource "terraform_data" "not_a_provider_resource" {
  input = 1
}

provider "aws" {
  alias  = "secondary"
  region = "eu-west-1"
}
'''


def test_valid_code_has_no_findings(tmp_path: Path, aws: ProviderSchema) -> None:
    assert _findings(tmp_path, aws, GOOD) == []


def test_unknown_types_arguments_and_blocks_are_found(tmp_path: Path,
                                                      aws: ProviderSchema) -> None:
    code = '''
resource "aws_no_such_thing" "a" {}
data "aws_no_such_data" "b" {}
resource "aws_vpc" "c" {
  cidr_blok = "10.0.0.0/16"
}
resource "aws_launch_template" "d" {
  metadata_options {
    http_tokenz = "required"
  }
  no_such_block {
  }
  dynamic "no_such_dynamic" {
    for_each = []
    content {}
  }
  dynamic "block_device_mappings" {
    for_each = []
    content {
      devise_name = "x"
    }
  }
}
provider "aws" {
  s3_force_path_style = true
}
'''
    assert _findings(tmp_path, aws, code) == [
        "aws_no_such_thing.a: resource type aws_no_such_thing does not exist in "
        f"{aws.package}",
        "aws_vpc.c.cidr_blok: unknown argument or block 'cidr_blok'",
        "aws_launch_template.d.metadata_options.http_tokenz: unknown argument or block "
        "'http_tokenz'",
        "aws_launch_template.d.no_such_block: unknown argument or block 'no_such_block'",
        "aws_launch_template.d.dynamic.no_such_dynamic: dynamic block 'no_such_dynamic' is not "
        "a nested block",
        "aws_launch_template.d.dynamic.block_device_mappings.devise_name: unknown argument or "
        "block 'devise_name'",
        f"data.aws_no_such_data.b: data type aws_no_such_data does not exist in {aws.package}",
        "provider.aws.s3_force_path_style: unknown argument or block 's3_force_path_style'",
    ]


def test_missing_required_arguments_and_blocks_are_found(tmp_path: Path,
                                                         aws: ProviderSchema) -> None:
    code = '''
resource "aws_lb_listener" "a" {
  port = 443
}
resource "aws_subnet" "b" {
}
'''
    assert _findings(tmp_path, aws, code) == [
        "aws_lb_listener.a: required argument or block 'default_action' is missing",
        "aws_lb_listener.a: required argument or block 'load_balancer_arn' is missing",
        "aws_subnet.b: required argument or block 'vpc_id' is missing",
    ]


def test_local_module_calls_match_the_module_variables(tmp_path: Path,
                                                       aws: ProviderSchema) -> None:
    module = tmp_path / "mod"
    module.mkdir()
    (module / "variables.tf").write_text(
        'variable "name" {\n  type = string\n}\n'
        'variable "tags" {\n  type    = map(string)\n  default = {}\n}\n')
    root = tmp_path / "root"
    root.mkdir()
    code = ('module "m" {\n  source = "../mod"\n  count  = 1\n  tagz   = {}\n}\n'
            'module "ok" {\n  source = "../mod"\n  name   = "x"\n}\n'
            'module "gone" {\n  source = "../nowhere"\n}\n')
    assert _findings(root, aws, code) == [
        "module.m.tagz: module ../mod has no variable 'tagz'",
        "module.m: required variable 'name' not given",
        "module.gone: source ../nowhere is not a directory",
    ]


def test_resources_that_can_carry_tags_must_set_them(tmp_path: Path,
                                                     aws: ProviderSchema) -> None:
    (tmp_path / "main.tf").write_text(
        'resource "aws_vpc" "tagged" {\n  tags = var.tags\n}\n'
        'resource "aws_vpc" "bare" {\n  cidr_block = "10.0.0.0/16"\n}\n'
        'resource "aws_route" "no_tags_in_schema" {\n  route_table_id = "r"\n}\n'
        'resource "terraform_data" "x" {\n  input = 1\n}\n')
    assert [f"{f.address}: {f.message}" for f in untagged(tmp_path, lambda _p: aws)] == [
        "aws_vpc.bare: sets no tags (the module's tag map)"]
