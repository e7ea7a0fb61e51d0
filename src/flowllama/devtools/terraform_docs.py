"""The ``## Inputs`` and ``## Outputs`` tables of a Terraform module's README, from its code.

Format (docs/terraform-checks.md, the Terraform conventions): one row per variable / output in
declaration order (files by name, then position); Type is the type expression as written with
whitespace collapsed; Default is ``n/a`` when absent, else the default as compact, key-sorted JSON
(like Terraform's ``jsonencode``); descriptions on one line; ``|`` escaped as ``\\|``.

``python3 -m flowllama.devtools.terraform_docs --write DIR...`` rewrites the tables in place;
``--check DIR...`` exits 1 and prints each README whose tables differ.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowllama.devtools.hcl_files import labelled_blocks, literal, load_hcl, tf_files

INPUTS_HEADER = ("| Name | Description | Type | Default | Required |\n"
                 "|------|-------------|------|---------|:--------:|")
OUTPUTS_HEADER = "| Name | Description |\n|------|-------------|"
_VARIABLE_RE = re.compile(r'^variable\s+"([^"]+)"\s*\{', re.MULTILINE)
_TYPE_RE = re.compile(r"[ \t]*type\s*=\s*")
_OPEN, _CLOSE = "([{", ")]}"


@dataclass(frozen=True)
class Variable:
    """One ``variable`` block as the table shows it."""

    name: str
    description: str
    type: str
    default: str | None  # rendered JSON, None when the variable has no default


@dataclass(frozen=True)
class Output:
    """One ``output`` block as the table shows it."""

    name: str
    description: str


def one_line(text: str) -> str:
    """Text on one line (whitespace runs become one space), safe inside a table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def render_default(value: Any) -> str:
    """A parsed default as ``jsonencode`` would write it (compact JSON, keys sorted)."""
    return json.dumps(literal(value), separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def raw_types(source: str) -> dict[str, str]:
    """Variable name -> its ``type`` expression as written, whitespace collapsed."""
    found: dict[str, str] = {}
    for match in _VARIABLE_RE.finditer(source):
        text = _top_level_type(source, match.end())
        if text is not None:
            found[match.group(1)] = " ".join(text.split())
    return found


def _top_level_type(source: str, body_start: int) -> str | None:
    """The text of the ``type = ...`` attribute directly inside the block opened before
    ``body_start`` (not inside a nested block), or None."""
    depth, pos, line_start = 1, body_start, True
    while pos < len(source) and depth > 0:
        char = source[pos]
        if line_start and depth == 1:
            attr = _TYPE_RE.match(source, pos)
            if attr is not None:
                return _expression(source, attr.end())
        line_start = char == "\n"
        if char == '"':
            pos = _skip_string(source, pos)
            continue
        depth += (char in _OPEN) - (char in _CLOSE)
        pos += 1
    return None


def _expression(source: str, start: int) -> str:
    """An expression from ``start`` to the newline that ends it (brackets balanced)."""
    depth, pos = 0, start
    while pos < len(source):
        char = source[pos]
        if char == '"':
            pos = _skip_string(source, pos)
            continue
        if char == "\n" and depth == 0:
            break
        depth += (char in _OPEN) - (char in _CLOSE)
        pos += 1
    return source[start:pos].strip()


def _skip_string(source: str, pos: int) -> int:
    """The position after the quoted string that starts at ``pos``."""
    pos += 1
    while pos < len(source) and source[pos] != '"':
        pos += 2 if source[pos] == "\\" else 1
    return pos + 1


def read_module(directory: Path) -> tuple[list[Variable], list[Output]]:
    """The variables and outputs declared in ``directory``'s ``.tf`` files, in order."""
    variables: list[Variable] = []
    outputs: list[Output] = []
    for path in tf_files(directory):
        parsed = load_hcl(path)
        types = raw_types(path.read_text(encoding="utf-8"))
        for (name,), body in labelled_blocks(parsed, "variable", 1):
            default = render_default(body["default"]) if "default" in body else None
            variables.append(Variable(name, str(literal(body.get("description", ""))),
                                      types.get(name, "any"), default))
        for (name,), body in labelled_blocks(parsed, "output", 1):
            outputs.append(Output(name, str(literal(body.get("description", "")))))
    return variables, outputs


def inputs_table(variables: Sequence[Variable]) -> str:
    """The ``## Inputs`` table."""
    rows = [INPUTS_HEADER]
    for var in variables:
        default = "n/a" if var.default is None else f"`{one_line(var.default)}`"
        required = "yes" if var.default is None else "no"
        rows.append(f"| `{var.name}` | {one_line(var.description)} | `{one_line(var.type)}` "
                    f"| {default} | {required} |")
    return "\n".join(rows)


def outputs_table(outputs: Sequence[Output]) -> str:
    """The ``## Outputs`` table."""
    rows = [OUTPUTS_HEADER]
    rows += [f"| `{out.name}` | {one_line(out.description)} |" for out in outputs]
    return "\n".join(rows)


def replace_table(readme: str, heading: str, table: str) -> str:
    """``readme`` with the first table under ``heading`` replaced by ``table`` (inserted
    right after the heading when it has none; the section appended when it is missing)."""
    lines = readme.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == heading)
    except StopIteration:
        return readme.rstrip("\n") + f"\n\n{heading}\n\n{table}\n"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#")),
               len(lines))
    rows = [i for i in range(start + 1, end) if lines[i].lstrip().startswith("|")]
    if rows:
        first, last = rows[0], rows[0]
        while last + 1 < end and lines[last + 1].lstrip().startswith("|"):
            last += 1
        new_lines = lines[:first] + table.splitlines() + lines[last + 1:]
    else:
        rest = start + 1
        while rest < len(lines) and not lines[rest].strip():
            rest += 1
        new_lines = [*lines[:start + 1], "", *table.splitlines(), "", *lines[rest:]]
    return "\n".join(new_lines) + "\n"


def expected_readme(directory: Path) -> str:
    """``directory``'s README.md with both tables as the code says they should be."""
    variables, outputs = read_module(directory)
    readme_path = directory / "README.md"
    readme = readme_path.read_text(encoding="utf-8") if readme_path.exists() else ""
    readme = replace_table(readme, "## Inputs", inputs_table(variables))
    return replace_table(readme, "## Outputs", outputs_table(outputs))


def readme_diff(directory: Path) -> str:
    """A unified diff from the README to what it should be; empty when in sync."""
    path = directory / "README.md"
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    wanted = expected_readme(directory)
    return "".join(difflib.unified_diff(current.splitlines(keepends=True),
                                        wanted.splitlines(keepends=True),
                                        f"{path} (as is)", f"{path} (from the code)"))


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``--write`` or ``--check`` over module directories; 1 when a check finds drift."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the tables in place")
    mode.add_argument("--check", action="store_true", help="exit 1 if a table is out of date")
    parser.add_argument("dirs", nargs="+", type=Path, help="module or stack directories")
    args = parser.parse_args(argv)
    drift = 0
    for directory in args.dirs:
        if args.write:
            (directory / "README.md").write_text(expected_readme(directory), encoding="utf-8")
            continue
        diff = readme_diff(directory)
        if diff:
            drift += 1
            sys.stdout.write(diff)
    if drift:
        sys.stdout.write(f"{drift} README(s) out of date: run python3 -m "
                         "flowllama.devtools.terraform_docs --write DIR\n")
    return 1 if drift else 0


if __name__ == "__main__":
    raise SystemExit(main())
