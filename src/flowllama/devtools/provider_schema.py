"""The current Terraform provider schemas (hashicorp/aws, hashicorp/google), from the npm
packages ``@cdktf/provider-aws`` and ``@cdktf/provider-google``.

Each package's ``.jsii`` file describes every resource, data source and the provider itself as
a TypeScript config struct: one property per argument or nested block, with ``optional`` unset
when Terraform requires it, and the Terraform name in the property's docs link. This module
packs it (``npm pack`` into the tools cache), reduces it once to a small JSON tree of
:class:`BlockSchema` and caches that. Bump the pinned package versions to follow the providers.
"""

from __future__ import annotations

import functools
import json
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from flowllama.devtools.tools_cache import ToolUnavailable, cached_directory, run_tool

Provider = Literal["aws", "google"]
# cdktf's last provider builds: aws 21.22.1 = hashicorp/aws 6.25.0, google 16.12.1 = 6.50.0.
NPM_PACKAGES: dict[str, str] = {
    "aws": "@cdktf/provider-aws@21.22.1",
    "google": "@cdktf/provider-google@16.12.1",
}
_SCHEMA_FILE = "schema.json"
_KIND_RE = re.compile(r"docs/(resources|data-sources)/\S+ (\w+)\}")
_TF_NAME_RE = re.compile(r"\w#(\w+)\}")
_MAX_DEPTH = 12  # Terraform schemas are trees; this only guards against a malformed file


@dataclass
class BlockSchema:
    """One block's arguments: attribute name -> required, nested block name -> (required,
    schema)."""

    attributes: dict[str, bool] = field(default_factory=dict)
    blocks: dict[str, tuple[bool, BlockSchema]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The compact cached form."""
        return {"a": self.attributes,
                "b": {k: [req, sub.to_json()] for k, (req, sub) in self.blocks.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BlockSchema:
        """Inverse of :meth:`to_json`."""
        return cls(dict(data["a"]),
                   {k: (bool(req), cls.from_json(sub)) for k, (req, sub) in data["b"].items()})

    def required(self) -> set[str]:
        """Names of the required attributes and nested blocks."""
        return ({k for k, req in self.attributes.items() if req}
                | {k for k, (req, _) in self.blocks.items() if req})


@dataclass
class ProviderSchema:
    """A provider's configuration, resource and data source schemas."""

    name: str
    package: str
    provider: BlockSchema
    resources: dict[str, BlockSchema]
    data_sources: dict[str, BlockSchema]


def load_provider_schema(provider: Provider, cache_dir: Path | None = None) -> ProviderSchema:
    """The schema, fetched and reduced on first use; :class:`ToolUnavailable` when npm is
    missing or cannot download the package."""
    package = NPM_PACKAGES[provider]
    entry_name = "provider-schema-" + package.strip("@").replace("/", "-").replace("@", "-")
    entry = cached_directory(entry_name, lambda work, _final: _build(package, work), cache_dir)
    data = json.loads((entry / _SCHEMA_FILE).read_text(encoding="utf-8"))
    return ProviderSchema(
        provider, package, BlockSchema.from_json(data["provider"]),
        {k: BlockSchema.from_json(v) for k, v in data["resource"].items()},
        {k: BlockSchema.from_json(v) for k, v in data["data"].items()})


@functools.cache
def provider_schema(provider: Provider) -> ProviderSchema:
    """:func:`load_provider_schema` from the default cache, loaded once per process."""
    return load_provider_schema(provider)


def _build(package: str, work: Path) -> None:
    run_tool(["npm", "pack", "--silent", "--pack-destination", str(work), package],
             f"npm pack {package}", cwd=work)
    tarballs = sorted(work.glob("*.tgz"))
    if len(tarballs) != 1:
        raise ToolUnavailable(f"npm pack {package} left {tarballs}")
    with tarfile.open(tarballs[0]) as archive:
        member = archive.extractfile("package/.jsii")
        if member is None:
            raise ToolUnavailable(f"{package} has no .jsii file")
        types: dict[str, Any] = json.load(member)["types"]
    tarballs[0].unlink()
    reduced = reduce_jsii(types)
    reduced["package"] = package
    (work / _SCHEMA_FILE).write_text(json.dumps(reduced, separators=(",", ":")),
                                     encoding="utf-8")


def reduce_jsii(types: dict[str, Any]) -> dict[str, Any]:
    """The jsii ``types`` map reduced to ``{"provider", "resource", "data"}`` schemas."""
    out: dict[str, Any] = {"provider": None, "resource": {}, "data": {}}
    for kind, tf_type, config_fqn in _constructs(types):
        schema = _struct(types, config_fqn, 0).to_json()
        if kind == "provider":
            out["provider"] = schema
        else:
            out[kind][tf_type] = schema
    if out["provider"] is None:
        raise ToolUnavailable("the .jsii file has no provider class")
    return out


def _constructs(types: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(kind, Terraform type, config struct fqn) of each resource, data source and provider."""
    kinds = {"cdktf.TerraformResource": "resource", "cdktf.TerraformDataSource": "data",
             "cdktf.TerraformProvider": "provider"}
    for spec in types.values():
        kind = kinds.get(spec.get("base", ""))
        params = spec.get("initializer", {}).get("parameters", [])
        config = next((p["type"].get("fqn") for p in params if p["name"] == "config"), None)
        if kind is None or config is None:
            continue
        match = _KIND_RE.search(spec.get("docs", {}).get("summary", ""))
        if kind != "provider" and match is None:
            continue
        yield kind, match.group(2) if match else "", config


def _struct(types: dict[str, Any], fqn: str, depth: int) -> BlockSchema:
    schema = BlockSchema()
    if depth > _MAX_DEPTH:
        return schema
    for prop in types[fqn].get("properties", []):
        name = tf_name(prop)
        required = not prop.get("optional", False)
        nested = _struct_fqn(types, prop["type"])
        if nested is None:
            schema.attributes[name] = required
        else:
            schema.blocks[name] = (required, _struct(types, nested, depth + 1))
    return schema


def tf_name(prop: dict[str, Any]) -> str:
    """A property's Terraform name: from its docs link, else its camelCase name in snake_case."""
    docs = prop.get("docs", {})
    for text in (docs.get("summary", ""), docs.get("remarks", "")):
        match = _TF_NAME_RE.search(text)
        if match is not None:
            return match.group(1)
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", prop["name"]).lower()


def _struct_fqn(types: dict[str, Any], type_ref: dict[str, Any]) -> str | None:
    """The fqn of the config struct a property holds (a nested block), if any."""
    fqn = type_ref.get("fqn")
    if fqn is not None:
        return fqn if types.get(fqn, {}).get("datatype") else None
    if "collection" in type_ref:
        return _struct_fqn(types, type_ref["collection"]["elementtype"])
    for option in type_ref.get("union", {}).get("types", []):
        found = _struct_fqn(types, option)
        if found is not None:
            return found
    return None
