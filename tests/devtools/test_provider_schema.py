from __future__ import annotations

import os

import pytest

from flowllama.devtools.provider_schema import (
    BlockSchema,
    ProviderSchema,
    provider_schema,
    reduce_jsii,
    tf_name,
)
from flowllama.devtools.tools_cache import ToolUnavailable


def _prop(name: str, tf: str | None, type_: dict[str, object], optional: bool = True
          ) -> dict[str, object]:
    docs = {"summary": f"Docs {{@link https://x/docs/resources/thing#{tf} Thing#{tf}}}."} if (
        tf) else {"summary": "Region where this resource will be managed."}
    return {"name": name, "optional": optional, "docs": docs, "type": type_}


# The shape of a cdktf .jsii file, cut down to one resource with one nested block.
TYPES = {
    "p.thing.Thing": {
        "kind": "class", "base": "cdktf.TerraformResource",
        "docs": {"summary": "Represents a {@link https://x/docs/resources/thing aws_thing}."},
        "initializer": {"parameters": [{"name": "config", "type": {"fqn": "p.thing.Config"}}]},
    },
    "p.thing.Config": {"kind": "interface", "datatype": True, "properties": [
        _prop("cidrBlock", "cidr_block", {"primitive": "string"}, optional=False),
        _prop("region", None, {"primitive": "string"}),
        _prop("tags", "tags", {"collection": {"kind": "map",
                                              "elementtype": {"primitive": "string"}}}),
        _prop("rule", "rule", {"union": {"types": [
            {"fqn": "cdktf.IResolvable"},
            {"collection": {"kind": "array", "elementtype": {"fqn": "p.thing.Rule"}}}]}}),
    ]},
    "p.thing.Rule": {"kind": "interface", "datatype": True, "properties": [
        _prop("fromPort", "from_port", {"primitive": "number"}, optional=False)]},
    "p.provider.Provider": {
        "kind": "class", "base": "cdktf.TerraformProvider", "docs": {"summary": "aws"},
        "initializer": {"parameters": [{"name": "config", "type": {"fqn": "p.provider.Cfg"}}]},
    },
    "p.provider.Cfg": {"kind": "interface", "datatype": True, "properties": [
        _prop("region", "region", {"primitive": "string"})]},
}


def test_jsii_structs_become_block_schemas() -> None:
    reduced = reduce_jsii(TYPES)
    thing = BlockSchema.from_json(reduced["resource"]["aws_thing"])
    assert thing.attributes == {"cidr_block": True, "region": False, "tags": False}
    assert thing.required() == {"cidr_block"}
    required, rule = thing.blocks["rule"]
    assert not required and rule.attributes == {"from_port": True}
    assert reduced["data"] == {}
    assert BlockSchema.from_json(reduced["provider"]).attributes == {"region": False}
    assert BlockSchema.from_json(thing.to_json()) == thing


def test_the_terraform_name_comes_from_the_docs_link_else_snake_case() -> None:
    assert tf_name(_prop("ipv6CidrBlock", "ipv6_cidr_block", {})) == "ipv6_cidr_block"
    assert tf_name(_prop("httpPutResponseHopLimit", None, {})) == (
        "http_put_response_hop_limit")


@pytest.fixture(scope="module")
def aws() -> ProviderSchema:
    try:
        return provider_schema("aws")
    except ToolUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"required under CI: {exc}")
        pytest.skip(str(exc))


def test_the_real_aws_schema_is_current(aws: ProviderSchema) -> None:
    # v4+ split S3 settings into their own resources; v6 has them, 3.39 does not.
    assert "aws_s3_bucket_versioning" in aws.resources
    template = aws.resources["aws_launch_template"]
    assert {"http_tokens", "http_put_response_hop_limit"} <= set(
        template.blocks["metadata_options"][1].attributes)
    assert aws.resources["aws_lb_listener"].required() == {"default_action",
                                                           "load_balancer_arn"}
    assert "aws_iam_policy_document" in aws.data_sources
    assert "s3_use_path_style" in aws.provider.attributes
