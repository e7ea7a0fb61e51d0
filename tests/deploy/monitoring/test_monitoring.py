"""The operations kit in deploy/monitoring: Prometheus rules pass ``promtool check rules``
and their unit tests (``promtool test rules``), every alert has a firing and a quiet test,
the Alertmanager configuration passes ``amtool check-config`` and routes pages to PagerDuty,
and every Grafana dashboard loads and queries only series that exist (the metrics named here
are checked against a running platform in tests/gateway/test_telemetry.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from deploy.conftest import unavailable
from deploy.monitoring.queries import DASHBOARDS, MONITORING, RULE_FILES, referenced, rules

ALERTMANAGER = MONITORING / "alertmanager" / "alertmanager.yml"
RULE_TESTS = MONITORING / "prometheus" / "tests" / "alerts.test.yml"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        package = "prometheus" if name == "promtool" else "prometheus-alertmanager"
        unavailable(f"{name} not installed (Debian package {package}; .ci/run installs it)")
    return path


def _run(*args: str, cwd: Path | None = None) -> str:
    """The tool's standard output; it must succeed."""
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False,
                            cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_rules_pass_promtool_check() -> None:
    output = _run(_tool("promtool"), "check", "rules", *map(str, RULE_FILES))
    assert "SUCCESS" in output


def test_every_alert_fires_on_a_bad_series_and_stays_quiet_on_a_good_one() -> None:
    output = _run(_tool("promtool"), "test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert "SUCCESS" in output
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    firing, quiet = set(), set()
    for test in tests:
        for case in test["alert_rule_test"]:
            (firing if case["exp_alerts"] else quiet).add(case["alertname"])
    alerts = {rule["alert"] for rule in rules() if "alert" in rule}
    assert alerts - firing == set(), "alerts without a test that makes them fire"
    assert alerts - quiet == set(), "alerts without a test that keeps them quiet"


def test_every_recorded_series_used_is_recorded() -> None:
    _metrics, used = referenced()
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    assert used - recorded == set()


def test_every_alert_is_routable_by_severity() -> None:
    for rule in rules():
        if "alert" in rule:
            assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
            assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_alertmanager_config_is_valid_and_routes_pages_to_pagerduty() -> None:
    amtool = _tool("amtool")
    _run(amtool, "check-config", str(ALERTMANAGER))
    route = [amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER}"]
    assert _run(*route, "severity=page").split() == ["pagerduty,slack"]
    assert _run(*route, "severity=ticket").split() == ["slack"]
    text = ALERTMANAGER.read_text()
    assert "hooks.slack.com" not in text and "routing_key:" not in text, "secrets belong in files"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboards_load_with_a_datasource_variable_and_queries(path: Path) -> None:
    board = json.loads(path.read_text())
    assert board["uid"].startswith("flowllama-") and board["title"].startswith("FlowLlama / ")
    names = [variable["name"] for variable in board["templating"]["list"]]
    assert "datasource" in names
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids)) and ids
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}"
        assert panel["targets"] and all(target["expr"].strip() for target in panel["targets"])


def test_the_five_dashboards_exist() -> None:
    assert {path.stem for path in DASHBOARDS} == {"gateway", "deployments", "agent", "monitor",
                                                  "cost"}
