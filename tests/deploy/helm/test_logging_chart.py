"""The flowllama-logging chart (EFK): lint, every ci values file renders and validates on two
Kubernetes versions, refused values, security contexts, hooks, and the Fluent Bit pipeline the
log-pipeline test (tests/test_log_pipeline.py) assumes. No Elasticsearch, Fluent Bit, Kibana or
API server runs here: docs/kubernetes.md says what only a cluster can check."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.helm.chart_objects import by_kind, pod_specs, unavailable
from flowllama.devtools.checkov_scan import ensure_checkov, scan
from flowllama.devtools.helm_docs import problems, readme_diff
from flowllama.devtools.helm_tool import (
    KUBE_VERSIONS,
        helm_lint,
    helm_template,
    rendered_objects,
    validate_objects,
)
from flowllama.devtools.log_pipeline import CRI_PARSER_REGEX, cri_wrap
from flowllama.devtools.tools_cache import ToolUnavailable
from flowllama.logging import MAX_LINE_BYTES

# checkov (its venv built on first use, about two minutes on two cores) scans twice.
pytestmark = pytest.mark.timeout(1200)

CHART = Path(__file__).resolve().parents[3] / "deploy" / "helm" / "flowllama-logging"
CI_VALUES = sorted(path.stem for path in (CHART / "ci").glob("*.yaml"))
Objects = list[dict[str, Any]]
# Containers that may not run as non-root, and why (README "Security").
ROOT_CONTAINERS = {
    "fluent-bit": "reads the kubelet's root-owned container log files",
    "sysctl": "sets the node's vm.max_map_count (production values only)",
}


@pytest.fixture(scope="module")
def render_logging(helm: Path) -> Callable[[str], Objects]:
    """``render_logging("dev-values")``: this chart's objects for ``ci/<name>.yaml``
    (``helm`` is tests/deploy/helm/conftest.py's)."""
    cache: dict[str, Objects] = {}

    def _render(name: str) -> Objects:
        if name not in cache:
            result = helm_template(CHART, [CHART / "ci" / f"{name}.yaml"], helm=helm,
                                   release="logs", namespace="logging")
            assert result.ok, result.stderr
            cache[name] = rendered_objects(result.stdout)
        return cache[name]

    return _render


def test_lint_strict_with_every_values_file(helm: Path) -> None:
    for values in [[], *([CHART / "ci" / f"{name}.yaml"] for name in CI_VALUES)]:
        result = helm_lint(CHART, values, helm=helm)
        assert result.ok, result.stdout + result.stderr


@pytest.mark.parametrize("name", CI_VALUES)
def test_every_ci_values_file_renders_and_validates_strictly(
        render_logging: Callable[[str], Objects], name: str) -> None:
    objects = render_logging(name)
    assert {"StatefulSet", "DaemonSet", "Job", "ClusterRole"} <= {o["kind"] for o in objects}
    assert validate_objects(objects, KUBE_VERSIONS) == []


@pytest.mark.parametrize(("values", "message"), [
    (["elasticsearch.replicas=3"], "needs elasticsearch.transportTls.existingSecret"),
    (["elasticsearch.replicas=-1"], "elasticsearch.replicas must be one of the following"),
    (["fluentBit.flush=soon"], "fluentBit.flush: Invalid type"),
    (["retention.deleteAfter=forever"], "retention.deleteAfter: Does not match pattern"),
    (["collectNamespaces=null"], "collectNamespaces is required"),
    (["collectNamespaces={Kube_System}"], "collectNamespaces.0: Does not match pattern"),
    (["kibana.enabled=maybe"], "kibana.enabled: Invalid type"),
])
def test_bad_values_are_refused_with_the_field(helm: Path, values: list[str],
                                                message: str) -> None:
    result = helm_template(CHART, set_values=values, helm=helm)
    assert not result.ok and message in result.stderr, result.stderr


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec["containers"]]


@pytest.mark.parametrize("name", CI_VALUES)
def test_containers_are_locked_down_with_documented_exceptions(
        render_logging: Callable[[str], Objects], name: str) -> None:
    objects = render_logging(name)
    specs = {**pod_specs(objects), **{f"DaemonSet/{n}": o["spec"]["template"]["spec"]
                                      for n, o in by_kind(objects, "DaemonSet").items()}}
    for where, spec in specs.items():
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        for container in _containers(spec):
            context = container["securityContext"]
            label = f"{where}/{container['name']}"
            assert "limits" in container["resources"], label
            if container["name"] == "sysctl":
                assert context["privileged"] is True  # the one privileged container
                continue
            assert context["allowPrivilegeEscalation"] is False, label
            assert context["readOnlyRootFilesystem"] is True, label
            assert context["capabilities"] == {"drop": ["ALL"]}, label
            assert (context.get("runAsNonRoot") is True) != (container["name"]
                                                             in ROOT_CONTAINERS), label
        token = spec.get("automountServiceAccountToken")
        assert token is (where.startswith("DaemonSet/")), where  # only Fluent Bit reads the API


def test_dev_is_one_node_and_production_three_spread_over_hosts(
        render_logging: Callable[[str], Objects]) -> None:
    def elasticsearch(name: str) -> dict[str, Any]:
        (statefulset,) = by_kind(render_logging(name), "StatefulSet").values()
        return statefulset

    dev, prod = elasticsearch("dev-values"), elasticsearch("production-values")
    dev_env = {e["name"]: e.get("value") for e in
               dev["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert dev["spec"]["replicas"] == 1 and dev_env["discovery.type"] == "single-node"
    assert dev_env["node.store.allow_mmap"] == "false"
    assert "affinity" not in dev["spec"]["template"]["spec"] or \
        "required" not in str(dev["spec"]["template"]["spec"]["affinity"])
    spec = prod["spec"]["template"]["spec"]
    assert prod["spec"]["replicas"] == 3
    (term,) = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"] == prod["spec"]["selector"]["matchLabels"]
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    assert env["cluster.initial_master_nodes"] == ",".join(
        f"{prod['metadata']['name']}-{n}" for n in range(3))
    assert env["xpack.security.transport.ssl.enabled"] == "true"


def test_setup_hook_installs_retention_users_and_the_data_view(
        render_logging: Callable[[str], Objects]) -> None:
    objects = render_logging("production-values")
    hooks = {f"{o['kind']}/{o['metadata']['name']}": o["metadata"].get("annotations", {})
             for o in objects if "helm.sh/hook" in o["metadata"].get("annotations", {})}
    assert {a["helm.sh/hook"] for a in hooks.values()} == {"post-install,post-upgrade"}
    weights = {k.split("/")[0]: int(a["helm.sh/hook-weight"]) for k, a in hooks.items()}
    assert weights["ConfigMap"] < weights["Job"]  # the script exists before the Job runs
    (script,) = [o["data"]["setup.sh"] for o in objects if o["kind"] == "ConfigMap"
                 and "setup.sh" in o.get("data", {})]
    assert '"delete":{"min_age":"30d"' in script  # production retention
    for call in ("_ilm/policy/flowllama-logs", "_index_template/flowllama-logs",
                 "_security/user/fluent-bit", "_security/user/kibana_system/_password",
                 "api/data_views/data_view"):
        assert call in script
    assert '"index.number_of_replicas":1' in script
    assert "api/data_views" not in _script(render_logging("all-namespaces-no-kibana-values"))


def _script(objects: Objects) -> str:
    return "".join(o["data"].get("setup.sh", "") for o in objects if o["kind"] == "ConfigMap")


def test_no_secret_value_is_rendered_outside_its_secret(
        render_logging: Callable[[str], Objects]) -> None:
    objects = render_logging("dev-values")
    (secret,) = by_kind(objects, "Secret").values()
    values = [base64.b64decode(v).decode() for v in secret["data"].values()]
    assert len(values) == 4 and all(len(v) >= 32 for v in values)
    others = str([o for o in objects if o["kind"] != "Secret"])
    assert not [v for v in values if v in others]
    assert not by_kind(render_logging("production-values"), "Secret")  # existingSecret: none made


def _fluent_bit_sections(objects: Objects) -> list[tuple[str, dict[str, str]]]:
    """The rendered fluent-bit.conf as (section, {key: value}), keys lower-cased."""
    (config,) = [o["data"]["fluent-bit.conf"] for o in objects
                 if o["kind"] == "ConfigMap" and "fluent-bit.conf" in o.get("data", {})]
    sections: list[tuple[str, dict[str, str]]] = []
    for line in config.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if match := re.fullmatch(r"\[([A-Z_]+)\]", stripped):
            sections.append((match.group(1), {}))
        else:
            key, _, value = stripped.partition(" ")
            assert sections and line.startswith("    "), f"not in a section: {line!r}"
            sections[-1][1][key.lower()] = value.strip()
    return sections


def _bytes(size: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kKmM]?)[bB]?", size).groups()  # type: ignore[union-attr]
    return int(number) * {"": 1, "k": 1024, "m": 1024 ** 2}[unit.lower()]


@pytest.mark.parametrize("name", CI_VALUES)
def test_fluent_bit_runs_the_pipeline_the_log_check_assumes(
        render_logging: Callable[[str], Objects], name: str) -> None:
    sections = _fluent_bit_sections(render_logging(name))
    assert [s for s, _ in sections] == ["SERVICE", "INPUT", "FILTER", "OUTPUT"]
    (_, service), (_, tail), (_, kube), (_, es) = sections
    assert tail["name"] == "tail" and tail["tag"] == "kube.*"
    # Fluent Bit's built-in cri and docker multiline parsers, and no parser of the chart's
    # own: the cri parser's expression is CRI_PARSER_REGEX, which the log check uses.
    assert [p.strip() for p in tail["multiline.parser"].split(",")] == ["cri", "docker"]
    assert not any(s in ("PARSER", "MULTILINE_PARSER") for s, _ in sections)
    assert "parsers_file" not in service and "parser" not in tail
    record = cri_wrap('{"event": "x"}', datetime.now(UTC))[0]
    assert re.match(CRI_PARSER_REGEX.replace("(?<", "(?P<"), record)
    # A FlowLlama line (at most MAX_LINE_BYTES) plus the CRI prefix fits the tail buffers.
    assert _bytes(tail["buffer_max_size"]) >= MAX_LINE_BYTES + 64
    assert tail["skip_long_lines"] == "On" and tail["db"].startswith("/state/")
    assert tail["storage.type"] == "filesystem" and "mem_buf_limit" in tail
    assert kube["name"] == "kubernetes" and kube["merge_log"] == "On"
    assert kube["keep_log"] == "Off" and kube["kube_tag_prefix"] == "kube.var.log.containers."
    assert es["name"] == "es" and es["replace_dots"] == "On"
    assert es["logstash_format"] == "On" and es["time_key"] == "@timestamp"
    assert es["retry_limit"] and "storage.total_limit_size" in es
    assert es["http_passwd"] == "${FLUENT_BIT_PASSWORD}"  # from the Secret, never inline
    paths = tail["path"].split(",")
    if name == "all-namespaces-no-kibana-values":
        assert paths == ["/var/log/containers/*.log"] and es["logstash_prefix"] == "cluster-logs"
    else:
        assert paths == ["/var/log/containers/*_flowllama_*.log"]


def test_fluent_bit_may_read_pods_and_namespaces_only(
        render_logging: Callable[[str], Objects]) -> None:
    objects = render_logging("dev-values")
    (role,) = by_kind(objects, "ClusterRole").values()
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods", "namespaces"],
                              "verbs": ["get", "list", "watch"]}]
    (binding,) = by_kind(objects, "ClusterRoleBinding").values()
    (daemonset,) = by_kind(objects, "DaemonSet").values()
    assert binding["subjects"][0]["name"] == \
        daemonset["spec"]["template"]["spec"]["serviceAccountName"]
    mounts = {m["name"]: m for m in
              daemonset["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
    assert mounts["varlog"]["readOnly"] is True


def test_network_policies_admit_only_the_pipeline(render_logging: Callable[[str], Objects]) -> None:
    policies = by_kind(render_logging("production-values"), "NetworkPolicy")
    es = policies["logs-logging-es"]["spec"]["ingress"]
    clients = {p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for p in es[0]["from"]}
    assert clients == {"fluent-bit", "kibana", "setup"}
    assert es[1]["ports"] == [{"port": 9300, "protocol": "TCP"}]
    assert "ingress" not in policies["logs-logging-fluent-bit"]["spec"]
    assert "ingress" not in policies["logs-logging-setup"]["spec"]
    assert not by_kind(render_logging("all-namespaces-no-kibana-values"), "NetworkPolicy")


SKIPS = CHART / "checkov-skips.yaml"


def test_checkov_helm_is_clean_but_for_justified_skips(helm: Path) -> None:
    skips = {str(k): str(v) for k, v in yaml.safe_load(SKIPS.read_text()).items()}
    assert all(check.startswith("CKV_K8S_") and len(reason.split()) >= 8
               for check, reason in skips.items()), skips
    try:
        python = ensure_checkov()
    except ToolUnavailable as exc:
        unavailable(str(exc))
    seen: set[str] = set()
    for name in ("dev-values", "production-values"):
        findings = scan(CHART, python, framework="helm", tool_dir=helm.parent,
                        extra_args=["--var-file", str(CHART / "ci" / f"{name}.yaml")])
        assert [str(f) for f in findings if f.check_id not in skips] == [], name
        seen |= {f.check_id for f in findings}
    assert seen == set(skips)  # every skip is still needed: checkov really scanned the chart


def test_readme_values_table_is_complete_and_in_sync() -> None:
    assert problems(CHART) == []
    assert readme_diff(CHART) == "", ("run: python3 -m flowllama.devtools.helm_docs --write "
                                      "deploy/helm/flowllama-logging")
