"""The chart README's values table: generated from values.schema.json and values.yaml, and
the problems it reports (a value without a description, a key only one side has)."""

from __future__ import annotations

import json
from pathlib import Path

from flowllama.devtools.helm_docs import expected_readme, main, problems, readme_diff

SCHEMA = {"type": "object", "properties": {
    "image": {"type": "object", "properties": {
        "tag": {"type": "string", "description": "Image tag | or digest."}}},
    "replicas": {"type": "integer", "description": "Pods."},
    "nodeSelector": {"type": "object", "description": "Node labels."}}}


def _chart(tmp_path: Path, values: str, readme: str = "# c\n\n## Values\n") -> Path:
    (tmp_path / "values.schema.json").write_text(json.dumps(SCHEMA))
    (tmp_path / "values.yaml").write_text(values)
    (tmp_path / "README.md").write_text(readme)
    return tmp_path


def test_table_rows_and_check(tmp_path: Path) -> None:
    chart = _chart(tmp_path, "image:\n  tag: v1\nreplicas: 2\nnodeSelector: {}\n")
    assert problems(chart) == []
    assert readme_diff(chart)
    assert main(["--check", str(chart)]) == 1
    assert main(["--write", str(chart)]) == 0
    text = (chart / "README.md").read_text()
    assert "| `image.tag` | string | `\"v1\"` | Image tag \\| or digest. |" in text
    assert "| `nodeSelector` | object | `{}` | Node labels. |" in text
    assert readme_diff(chart) == "" and main(["--check", str(chart)]) == 0
    assert expected_readme(chart) == text  # idempotent


def test_problems_name_the_keys(tmp_path: Path) -> None:
    chart = _chart(tmp_path, "image:\n  tag: v1\nextra: 1\n")
    assert problems(chart) == [
        "replicas: in values.schema.json, not in values.yaml",
        "nodeSelector: in values.schema.json, not in values.yaml",
        "extra: in values.yaml, not described in values.schema.json"]
