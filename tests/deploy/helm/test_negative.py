"""Values the chart must refuse, each with a message that says what to fix: the schema's
(via ``helm lint --strict`` and ``helm template``) or the templates' own ``fail``."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.helm.chart_objects import CHART
from flowllama.devtools.helm_tool import helm_lint, helm_template, run_helm

CI = CHART / "ci" / "default-values.yaml"

CASES = [
    (["--set", "api.replicas=-1"], "api.replicas: Must be greater than or equal to 0"),
    (["--set-string", "httpPort=8000"], "httpPort: Invalid type. Expected: integer"),
    (["--set", "ollama.port=70000"], "ollama.port: Must be less than or equal to 65535"),
    (["--set", "secrets.databaseUrl="], "secrets.databaseUrl is required"),
    (["--set", "secrets.jwtSecret="], "secrets.jwtSecret is required"),
    (["--set", "ollama.enabled=true"], "ollama.register.owner is required"),
    (["--set", "config.extraEnv.FLOWLLAMA_AUTH__JWT_SECRET=x"], "looks like a credential"),
    (["--set", "api.replica=2"], "Additional property replica is not allowed"),
    (["--set", "ollama.models[0]=bad model; rm -rf /"], "ollama.models.0: Does not match"),
    (["--set", "gateway.enabled=false"], "ingress.enabled needs gateway.enabled"),
]


def _template(helm: Path, extra: list[str]) -> str:
    if extra[0] == "--set":
        result = helm_template(CHART, [CI], set_values=extra[1:], helm=helm)
    else:  # --set-string keeps "8000" a string
        result = run_helm(["template", "flowllama", str(CHART), "-f", str(CI), *extra],
                          helm=helm)
    assert not result.ok, f"{extra} rendered"
    return result.stderr


@pytest.mark.parametrize(("extra", "message"), CASES, ids=[c[1][:40] for c in CASES])
def test_bad_values_fail_with_a_clear_message(helm: Path, extra: list[str],
                                              message: str) -> None:
    assert message in _template(helm, extra)


def test_lint_of_the_bare_defaults_names_the_missing_credentials(helm: Path) -> None:
    # helm lint turns a template's `fail` into an INFO line (lint tolerates unset required
    # values by design); the install itself fails, as the cases above show.
    result = helm_lint(CHART, helm=helm)
    assert "secrets.databaseUrl is required" in result.stdout + result.stderr


def test_a_cronjob_name_over_52_characters_is_refused(helm: Path) -> None:
    result = helm_template(CHART, [CI], release="flowllama-production-eu", helm=helm,
                           set_values=["loadtest.enabled=true",
                                       "loadtest.targets[0].name=tokenapi-eu-central-1"])
    assert not result.ok
    assert "flowllama-production-eu-loadtest-tokenapi-eu-central-1" in result.stderr
    assert "longer than Kubernetes' 52 characters" in result.stderr
