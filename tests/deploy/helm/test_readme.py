"""The chart README's values table matches values.schema.json and values.yaml, and every
value is described (the schema covers every value)."""

from __future__ import annotations

from deploy.helm.chart_objects import CHART
from flowllama.devtools.helm_docs import problems, readme_diff


def test_every_value_is_in_the_schema_with_a_description() -> None:
    assert problems(CHART) == []


def test_values_table_in_sync() -> None:
    diff = readme_diff(CHART)
    assert diff == "", ("run: python3 -m flowllama.devtools.helm_docs --write "
                        f"deploy/helm/flowllama\n{diff}")
