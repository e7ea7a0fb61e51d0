"""Checks Terraform code against the current provider schemas (see ``provider_schema``).

For every ``resource`` / ``data`` block of an ``aws_*`` or ``google_*`` type, and every
``provider "aws"|"google"`` block: the type exists; every argument and nested block exists,
recursively (``dynamic "x"`` counts as block ``x``, its ``content`` is checked as that block);
every required argument and block is present. Meta-arguments (count, for_each, depends_on,
lifecycle, provider, provisioner, connection) are Terraform's, not the provider's. Calls of
local modules (``source = "./..."`` or ``"../..."``) are checked against the called module's
variables: no unknown argument, every variable without a default given.

``python3 -m flowllama.devtools.schema_check DIR...`` prints the findings (exit 1 if any).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowllama.devtools.hcl_files import (
    META_KEYS,
    is_block_list,
    label,
    labelled_blocks,
    literal,
    load_hcl,
    tf_files,
)
from flowllama.devtools.provider_schema import BlockSchema, Provider, provider_schema

RESOURCE_META = frozenset({"count", "for_each", "depends_on", "lifecycle", "provider",
                           "provisioner", "connection"})
MODULE_META = frozenset({"source", "version", "count", "for_each", "depends_on", "providers"})
PROVIDER_META = frozenset({"alias", "version"})
PREFIXES: dict[str, Provider] = {"aws_": "aws", "google_": "google"}
TAG_ARGUMENT: dict[Provider, str] = {"aws": "tags", "google": "labels"}


@dataclass(frozen=True)
class Finding:
    """One problem: the file, the address in it (``aws_vpc.this.tags``) and what is wrong."""

    file: Path
    address: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.address}: {self.message}"


SchemaLookup = Callable[[Provider], Any]


def provider_of(tf_type: str) -> Provider | None:
    """The provider whose schema covers a resource type (None for terraform_data and others)."""
    return next((p for prefix, p in PREFIXES.items() if tf_type.startswith(prefix)), None)


def check_directory(directory: Path, schemas: SchemaLookup = provider_schema
                    ) -> list[Finding]:
    """Findings for the ``.tf`` files of one directory (a module, example or stack)."""
    findings: list[Finding] = []
    for path in tf_files(directory):
        parsed = load_hcl(path)
        findings += _check_resources(path, parsed, schemas)
        findings += _check_providers(path, parsed, schemas)
        findings += _check_module_calls(path, parsed)
    return findings


def _check_resources(path: Path, parsed: dict[str, Any], schemas: SchemaLookup
                     ) -> Iterator[Finding]:
    for kind, prefix in (("resource", ""), ("data", "data.")):
        for (tf_type, name), body in labelled_blocks(parsed, kind, 2):
            provider = provider_of(tf_type)
            if provider is None:
                continue
            schema = schemas(provider)
            table = schema.resources if kind == "resource" else schema.data_sources
            address = f"{prefix}{tf_type}.{name}"
            if tf_type not in table:
                yield Finding(path, address, f"{kind} type {tf_type} does not exist in "
                                             f"{schema.package}")
                continue
            yield from check_body(path, address, body, table[tf_type], RESOURCE_META)


def _check_providers(path: Path, parsed: dict[str, Any], schemas: SchemaLookup
                     ) -> Iterator[Finding]:
    for (name,), body in labelled_blocks(parsed, "provider", 1):
        if name in ("aws", "google"):
            schema = schemas(name)  # type: ignore[arg-type]  # narrowed by the test above
            yield from check_body(path, f"provider.{name}", body, schema.provider,
                                  PROVIDER_META)


def check_body(path: Path, address: str, body: dict[str, Any], schema: BlockSchema,
               meta: frozenset[str] = frozenset()) -> Iterator[Finding]:
    """Findings for one block body against its schema, recursively."""
    present: set[str] = set()
    for key, value in body.items():
        if key in META_KEYS or key in meta:
            continue
        if key == "dynamic":
            yield from _check_dynamic(path, address, value, schema, present)
            continue
        present.add(key)
        where = f"{address}.{key}"
        if key in schema.attributes:
            continue
        if key not in schema.blocks:
            yield Finding(path, where, f"unknown argument or block {key!r}")
            continue
        for item in _nested_bodies(value):
            yield from check_body(path, where, item, schema.blocks[key][1])
    for missing in sorted(schema.required() - present):
        yield Finding(path, address, f"required argument or block {missing!r} is missing")


def _nested_bodies(value: Any) -> list[dict[str, Any]]:
    """The bodies to check inside a nested block, or an object assigned to one."""
    if is_block_list(value):
        return list(value)
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        return list(value)
    return []  # an expression (a variable, a for loop): its content is not visible here


def _check_dynamic(path: Path, address: str, entries: list[Any], schema: BlockSchema,
                   present: set[str]) -> Iterator[Finding]:
    for entry in entries:
        for key, dyn in entry.items():
            if key in META_KEYS:
                continue
            name = label(key)
            present.add(name)
            where = f"{address}.dynamic.{name}"
            if name not in schema.blocks:
                yield Finding(path, where, f"dynamic block {name!r} is not a nested block")
                continue
            for content in dyn.get("content", []):
                yield from check_body(path, where, content, schema.blocks[name][1])


def _check_module_calls(path: Path, parsed: dict[str, Any]) -> Iterator[Finding]:
    for (name,), body in labelled_blocks(parsed, "module", 1):
        source = literal(body.get("source", ""))
        if not isinstance(source, str) or not source.startswith(("./", "../")):
            continue
        target = (path.parent / source).resolve()
        if not target.is_dir():
            yield Finding(path, f"module.{name}", f"source {source} is not a directory")
            continue
        variables: dict[str, bool] = {}
        for tf in tf_files(target):
            for (var,), var_body in labelled_blocks(load_hcl(tf), "variable", 1):
                variables[var] = "default" not in var_body
        given = {k for k in body if k not in META_KEYS and k not in MODULE_META}
        for unknown in sorted(given - variables.keys()):
            yield Finding(path, f"module.{name}.{unknown}",
                          f"module {source} has no variable {unknown!r}")
        for missing in sorted(v for v, req in variables.items() if req and v not in given):
            yield Finding(path, f"module.{name}", f"required variable {missing!r} not given")


# Resource types that have the tag argument in the current provider but not in the oldest one
# the modules support (hashicorp/aws 3.39, live-tested; hashicorp/google 5.x): setting it there
# fails validation.
UNTAGGABLE_IN_OLDEST_PROVIDER = {
    "aws_lb_listener": "aws 3.39 has no tags argument on aws_lb_listener",
    "google_compute_global_address": "google 5.x GA has no labels on global addresses",
}


def untagged(directory: Path, schemas: SchemaLookup = provider_schema) -> list[Finding]:
    """Resources that could carry the module's tag map but set none: every ``aws_*`` resource
    whose schema has ``tags`` and every ``google_*`` one whose schema has ``labels`` must set
    it (to any expression; whether that is the module's map is left to review), except the
    types in :data:`UNTAGGABLE_IN_OLDEST_PROVIDER`."""
    findings: list[Finding] = []
    for path in tf_files(directory):
        for (tf_type, name), body in labelled_blocks(load_hcl(path), "resource", 2):
            provider = provider_of(tf_type)
            if provider is None or tf_type in UNTAGGABLE_IN_OLDEST_PROVIDER:
                continue
            schema = schemas(provider).resources.get(tf_type)
            argument = TAG_ARGUMENT[provider]
            if schema is not None and argument in schema.attributes and argument not in body:
                findings.append(Finding(path, f"{tf_type}.{name}",
                                        f"sets no {argument} (the module's tag map)"))
    return findings


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: check each directory given; print findings; 1 if any."""
    dirs = [Path(a) for a in (sys.argv[1:] if argv is None else argv)]
    findings = [f for d in dirs for f in check_directory(d)]
    for finding in findings:
        sys.stdout.write(f"{finding}\n")
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
