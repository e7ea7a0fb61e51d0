"""The ``## Values`` table of a Helm chart's README, from ``values.schema.json`` and
``values.yaml``.

One row per value, in the schema's order: a schema node with ``properties`` is walked into, any
other node (a scalar, a list, a free-form map) is a row. Key is the dotted path; Type the
schema's type; Default the value in ``values.yaml`` as compact, key-sorted JSON; Description the
schema's, on one line, ``|`` escaped. The schema is the single source of descriptions, so
:func:`problems` also reports a row without a description and a key that ``values.yaml`` and
the schema do not both have.

``python3 -m flowllama.devtools.helm_docs --write CHART...`` rewrites the table in place;
``--check CHART...`` exits 1 and prints each README that differs or each problem.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HEADING = "## Values"
HEADER = "| Key | Type | Default | Description |\n|-----|------|---------|-------------|"
MISSING = object()


@dataclass(frozen=True)
class Row:
    """One value of the chart."""

    key: str
    type: str
    default: Any
    description: str


def _type(node: dict[str, Any]) -> str:
    if "type" in node:
        kind = node["type"]
        return " or ".join(kind) if isinstance(kind, list) else str(kind)
    options = [str(o.get("type", "?")) for o in node.get("anyOf", [])]
    return " or ".join(dict.fromkeys(options)) or "any"


def _walk(node: dict[str, Any], values: Any, prefix: str) -> Iterator[Row]:
    for name, child in node.get("properties", {}).items():
        key = f"{prefix}{name}"
        value = values.get(name, MISSING) if isinstance(values, dict) else MISSING
        if "properties" in child:
            yield from _walk(child, value if value is not MISSING else {}, f"{key}.")
        else:
            yield Row(key, _type(child), value, " ".join(child.get("description", "").split()))


def read_chart(chart: Path) -> list[Row]:
    """Every value of ``chart`` (see the module doc)."""
    schema = json.loads((chart / "values.schema.json").read_text(encoding="utf-8"))
    values = yaml.safe_load((chart / "values.yaml").read_text(encoding="utf-8")) or {}
    return list(_walk(schema, values, ""))


def _leaves(values: Any, prefix: str = "") -> Iterator[str]:
    for name, value in values.items():
        if isinstance(value, dict) and value:
            yield from _leaves(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}"


def problems(chart: Path) -> list[str]:
    """Rows without a description, schema keys missing from values.yaml, and values.yaml
    keys the schema does not describe."""
    rows = read_chart(chart)
    values = yaml.safe_load((chart / "values.yaml").read_text(encoding="utf-8")) or {}
    found = [f"{r.key}: no description in values.schema.json" for r in rows if not r.description]
    found += [f"{r.key}: in values.schema.json, not in values.yaml" for r in rows
              if r.default is MISSING and r.key != "global"]
    keys = {r.key for r in rows}
    found += [f"{leaf}: in values.yaml, not described in values.schema.json"
              for leaf in _leaves(values)
              if leaf not in keys and not any(leaf.startswith(k + ".") for k in keys)]
    return found


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def values_table(rows: Sequence[Row]) -> str:
    """The Markdown table of ``rows``."""
    lines = [HEADER]
    for row in rows:
        default = "n/a" if row.default is MISSING else json.dumps(
            row.default, sort_keys=True, separators=(",", ":"))
        lines.append(f"| `{row.key}` | {_cell(row.type)} | `{_cell(default)}` | "
                     f"{_cell(row.description)} |")
    return "\n".join(lines)


def expected_readme(chart: Path) -> str:
    """The README with its ``## Values`` table regenerated (the section must exist; the
    table runs from the heading's next table to the first line that is not a row)."""
    readme = (chart / "README.md").read_text(encoding="utf-8")
    lines = readme.split("\n")
    try:
        start = lines.index(HEADING)
    except ValueError as exc:
        raise ValueError(f"{chart}/README.md has no '{HEADING}' section") from exc
    first = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("|")), None)
    if first is None:
        return "\n".join([*lines[:start + 1], "", values_table(read_chart(chart)),
                          *lines[start + 1:]])
    end = first
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return "\n".join([*lines[:first], values_table(read_chart(chart)), *lines[end:]])


def readme_diff(chart: Path) -> str:
    """A unified diff from the README to what it should be ('' when in sync)."""
    current = (chart / "README.md").read_text(encoding="utf-8")
    return "".join(difflib.unified_diff(
        current.splitlines(keepends=True), expected_readme(chart).splitlines(keepends=True),
        f"{chart}/README.md", "expected"))


def main(argv: Sequence[str] | None = None) -> int:
    """``--write`` or ``--check`` the README tables of the charts given."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite the tables in place")
    parser.add_argument("--check", action="store_true", help="exit 1 when a table differs")
    parser.add_argument("charts", nargs="+", type=Path)
    args = parser.parse_args(argv)
    status = 0
    for chart in args.charts:
        issues = problems(chart)
        for issue in issues:
            print(f"{chart}: {issue}", file=sys.stderr)
        status |= bool(issues)
        if args.write:
            (chart / "README.md").write_text(expected_readme(chart), encoding="utf-8")
        elif diff := readme_diff(chart):
            print(diff, end="")
            status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
