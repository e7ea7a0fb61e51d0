"""Terraform files as Python data, through python-hcl2 (the ``dev`` extra).

python-hcl2 8 keeps string literals with their quotes (``'"x"'``), marks blocks with
``__is_block__`` and wraps expressions as ``"${...}"``. These helpers hide those details from
the checks: :func:`load_hcl` parses one file, :func:`literal` turns a parsed constant into the
plain value Terraform would see, :func:`label` strips the quotes of a block label.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BLOCK_MARKER = "__is_block__"
META_KEYS = frozenset({BLOCK_MARKER, "__comments__", "__inline_comments__",
                       "__start_line__", "__end_line__"})


class HclParseError(Exception):
    """A Terraform file python-hcl2 cannot parse (the message names the file)."""


def load_hcl(path: Path) -> dict[str, Any]:
    """Parse one ``.tf`` file; heredocs come back as ordinary quoted strings."""
    import hcl2
    from hcl2.utils import SerializationOptions

    options = SerializationOptions(preserve_heredocs=False)
    try:
        with path.open(encoding="utf-8") as handle:
            parsed: dict[str, Any] = hcl2.load(handle, serialization_options=options)
    except Exception as exc:  # lark raises several unrelated exception types
        raise HclParseError(f"{path}: {exc}") from exc
    return parsed


def tf_files(directory: Path) -> list[Path]:
    """The ``.tf`` files of one directory (not its subdirectories), sorted by name."""
    return sorted(p for p in directory.glob("*.tf") if p.is_file())


def label(key: str) -> str:
    """A block label without its quotes: ``'"aws_vpc"'`` -> ``'aws_vpc'``."""
    if len(key) >= 2 and key[0] == key[-1] == '"':
        return str(json.loads(key))
    return key


def literal(value: Any) -> Any:
    """The plain value of a parsed constant: quotes removed from strings, recursively.

    Expressions (``"${...}"``) stay as their text; HCL's string escapes are JSON's.
    """
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == value[-1] == '"':
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                return value[1:-1]
        return value
    if isinstance(value, list):
        return [literal(item) for item in value]
    if isinstance(value, dict):
        return {label(k): literal(v) for k, v in value.items() if k not in META_KEYS}
    return value


def is_block_list(value: Any) -> bool:
    """True for what python-hcl2 makes of one or more nested blocks of one type."""
    return (isinstance(value, list) and bool(value)
            and all(isinstance(item, dict) and item.get(BLOCK_MARKER) for item in value))


def labelled_blocks(parsed: dict[str, Any], kind: str, depth: int) -> Iterator[
        tuple[tuple[str, ...], dict[str, Any]]]:
    """Each top-level ``kind`` block as (labels, body); ``depth`` is its number of labels
    (2 for ``resource "type" "name"``, 1 for ``variable "name"``)."""
    for entry in parsed.get(kind, []):
        yield from _unwrap(entry, depth, ())


def _unwrap(node: dict[str, Any], depth: int, labels: tuple[str, ...]) -> Iterator[
        tuple[tuple[str, ...], dict[str, Any]]]:
    if depth == 0:
        yield labels, node
        return
    for key, child in node.items():
        if key in META_KEYS or not isinstance(child, dict):
            continue
        yield from _unwrap(child, depth - 1, (*labels, label(key)))
