"""Assertions on the rendered objects: pod security, probes, NetworkPolicy flows, GPU
requests, hook ordering, the Ingress's hosts and paths, the load-test CronJobs, and that no
credential is rendered into a ConfigMap."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from deploy.helm.chart_objects import CHART, CI_VALUES, Objects, by_kind, pod_specs

Render = Callable[[str], Objects]
NAME = "flowllama"  # release name of the renders: fullname is the release name


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec["containers"]]


@pytest.mark.parametrize("values", CI_VALUES)
def test_pod_security(render: Render, values: str) -> None:
    specs = pod_specs(render(values))
    assert specs
    for where, spec in specs.items():
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] > 0, where
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert spec["automountServiceAccountToken"] is False, where
        for container in containers(spec):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts, f"{where}: no writable /tmp"


def test_public_urls_follow_the_hosts_and_tls(render: Render) -> None:
    [config] = [m for name, m in by_kind(render("ollama-values"), "ConfigMap").items()
                if "-dashboard-" not in name]
    assert config["data"]["FLOWLLAMA_PUBLIC_URL"] == "https://api.flowllama.example.org"
    assert config["data"]["FLOWLLAMA_GATEWAY__PUBLIC_URL"] == \
        "https://tokenapi.flowllama.example.org/v1"
    assert config["data"]["FLOWLLAMA_ENV"] == "production"


def test_service_accounts_never_mount_tokens(render: Render) -> None:
    accounts = by_kind(render("existing-secret-values"), "ServiceAccount")
    assert all(sa["automountServiceAccountToken"] is False for sa in accounts.values())
    agent = accounts[f"{NAME}-agent"]["metadata"]["annotations"]
    assert agent["eks.amazonaws.com/role-arn"].endswith(":role/flowllama-agent")
    assert "iam.gke.io/gcp-service-account" in agent  # the chart-wide annotation too


def test_probes_match_what_each_role_serves(render: Render) -> None:
    deployments = by_kind(render("ollama-values"), "Deployment")
    for role in ("api", "gateway", "dashboard"):
        [container] = deployments[f"{NAME}-{role}"]["spec"]["template"]["spec"]["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/health"
        assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
        assert container["startupProbe"]["httpGet"]["path"] == "/health"
    for role in ("agent", "monitor"):  # no HTTP app: /health and /ready on the metrics port
        [container] = deployments[f"{NAME}-{role}"]["spec"]["template"]["spec"]["containers"]
        assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "metrics"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "metrics"}
        assert container["startupProbe"]["httpGet"] == {"path": "/health", "port": "metrics"}
        assert not any("tcpSocket" in container[probe] for probe in
                       ("livenessProbe", "readinessProbe", "startupProbe"))
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["FLOWLLAMA_METRICS_PORT"] == "9100"
        assert container["args"][:2] == ["serve", role]


def test_roles_can_be_turned_off_and_scaled(render: Render) -> None:
    objects = render("loadtest-s3-values")
    deployments = by_kind(objects, "Deployment")
    assert sorted(deployments) == [f"{NAME}-api", f"{NAME}-gateway"]
    fixed = by_kind(render("existing-secret-values"), "Deployment")
    assert fixed[f"{NAME}-api"]["spec"]["replicas"] == 3
    assert fixed[f"{NAME}-gateway"]["spec"]["template"]["spec"]["containers"][0]["args"] == \
        ["serve", "gateway", "--workers", "4"]
    assert by_kind(render("existing-secret-values"), "HorizontalPodAutoscaler") == {}
    hpas = by_kind(objects, "HorizontalPodAutoscaler")
    assert sorted(hpas) == [f"{NAME}-api", f"{NAME}-gateway"]
    assert "replicas" not in deployments[f"{NAME}-api"]["spec"]  # the HPA owns it
    assert sorted(by_kind(objects, "PodDisruptionBudget")) == [f"{NAME}-api", f"{NAME}-gateway"]


def _selects(policy: dict[str, Any], component: str) -> bool:
    labels = policy["spec"]["podSelector"].get("matchLabels", {})
    return labels.get("app.kubernetes.io/component") in (None, component)


def _peers(rules: list[dict[str, Any]], side: str) -> list[dict[str, Any]]:
    return [peer for rule in rules for peer in rule.get(side, [])]


def test_network_policies_default_deny_then_only_the_needed_flows(render: Render) -> None:
    objects = render("ollama-values")
    policies = by_kind(objects, "NetworkPolicy")
    deny = policies.pop(f"{NAME}-default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    components = {o["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
                  for o in objects if o["kind"] in ("Deployment", "StatefulSet", "Job")}
    components |= {"loadtest"}
    named = {p["spec"]["podSelector"]["matchLabels"].get("app.kubernetes.io/component")
             for p in policies.values()} - {None}
    assert named == components  # one policy per component this release runs, no other
    ollama = policies[f"{NAME}-ollama"]["spec"]
    sources = {peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
               for peer in _peers(ollama["ingress"], "from")}
    assert sources == {"gateway", "monitor", "ollama-pull"}
    assert ollama["ingress"][0]["ports"] == [{"port": 11434, "protocol": "TCP"}]
    reach_ollama = {name for name, p in policies.items()
                    if any("podSelector" in peer and peer["podSelector"]["matchLabels"].get(
                        "app.kubernetes.io/component") == "ollama"
                        for peer in _peers(p["spec"].get("egress", []), "to"))}
    assert reach_ollama == {f"{NAME}-gateway", f"{NAME}-monitor", f"{NAME}-ollama-pull"}
    [migrate] = policies[f"{NAME}-migrate"]["spec"]["egress"]  # the database only
    assert migrate["ports"] == [{"port": 5432, "protocol": "TCP"}]
    register = policies[f"{NAME}-ollama-register"]["spec"]["egress"]  # + the job queue
    assert [rule["ports"] for rule in register] == [
        [{"port": 5432, "protocol": "TCP"}], [{"port": 443, "protocol": "TCP"}]]
    for name in ("migrate", "ollama-register", "ollama-pull", "loadtest"):
        assert policies[f"{NAME}-{name}"]["spec"]["ingress"] == [], name
    api_from = _peers(policies[f"{NAME}-api"]["spec"]["ingress"], "from")
    assert {"kubernetes.io/metadata.name": "ingress-nginx"} in [
        peer["namespaceSelector"]["matchLabels"] for peer in api_from]
    dns = policies[f"{NAME}-dns"]["spec"]
    assert dns["egress"][0]["ports"] == [{"port": 53, "protocol": "UDP"},
                                         {"port": 53, "protocol": "TCP"}]


@pytest.mark.parametrize("values", CI_VALUES)
def test_every_pod_that_uses_the_database_may_reach_it(render: Render, values: str) -> None:
    objects = render(values)
    policies = by_kind(objects, "NetworkPolicy")
    if not policies:
        pytest.skip("NetworkPolicies are off in these values")
    for where, spec in pod_specs(objects).items():
        names = {e["name"] for c in containers(spec) for e in c.get("env", [])}
        labels = next(o for o in objects if f"{o['kind']}/{o['metadata']['name']}" == where)
        component = _component(labels)
        policy = policies[f"{NAME}-{component}"]["spec"]
        ports = [p["port"] for rule in policy["egress"] for p in rule.get("ports", [])]
        assert ("FLOWLLAMA_DATABASE_URL" in names) == (5432 in ports), where


def _component(obj: dict[str, Any]) -> str:
    template = obj["spec"].get("jobTemplate", {}).get("spec", obj["spec"])["template"]
    return str(template["metadata"]["labels"]["app.kubernetes.io/component"])


def test_ollama_requests_gpus_on_gpu_nodes(render: Render) -> None:
    [ollama] = by_kind(render("ollama-values"), "StatefulSet").values()
    spec = ollama["spec"]["template"]["spec"]
    resources = spec["containers"][0]["resources"]
    assert resources["requests"]["nvidia.com/gpu"] == 1
    assert resources["limits"]["nvidia.com/gpu"] == 1
    assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in \
        spec["tolerations"]
    [claim] = ollama["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "100Gi"


def _hook(obj: dict[str, Any]) -> tuple[str, int]:
    annotations = obj["metadata"].get("annotations", {})
    return annotations.get("helm.sh/hook", ""), int(annotations.get("helm.sh/hook-weight", 0))


def test_hook_ordering(render: Render) -> None:
    objects = render("ollama-values")
    hooks = {f"{o['kind']}/{o['metadata']['name']}": _hook(o) for o in objects if _hook(o)[0]}
    migrate = hooks[f"Job/{NAME}-migrate"]
    assert migrate[0] == "pre-install,pre-upgrade"
    # What the migration Job reads exists before it (lower weight, same phase).
    for needed in (f"Secret/{NAME}-secrets", f"ConfigMap/{NAME}-config",
                   f"ServiceAccount/{NAME}-hooks"):
        assert hooks[needed][0] == migrate[0] and hooks[needed][1] < migrate[1], needed
    pull, register = hooks[f"Job/{NAME}-ollama-pull"], hooks[f"Job/{NAME}-ollama-register"]
    assert pull[0] == register[0] == "post-install,post-upgrade"
    assert pull[1] < register[1]
    job = by_kind(objects, "Job")[f"{NAME}-migrate"]["spec"]["template"]["spec"]
    assert job["initContainers"][0]["name"] == "wait-for-database"
    assert job["containers"][0]["args"] == ["db", "upgrade"]


def test_register_job_calls_external_register(render: Render) -> None:
    job = by_kind(render("ollama-values"), "Job")[f"{NAME}-ollama-register"]
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "external", "register", "--name", "shared-ollama", "--owner", "ops@example.org",
        "--base-url", f"http://{NAME}-ollama:11434", "--api", "ollama",
        "--price-per-hour", "1.21", "--model", "llama3.2:3b"]
    pull = by_kind(render("ollama-values"), "Job")[f"{NAME}-ollama-pull"]
    args = pull["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[1:] == ["pull", "llama3.2:3b", "qwen2.5:7b-instruct"]  # data, not shell text


def test_ingress_hosts_and_paths(render: Render) -> None:
    [ingress] = by_kind(render("ollama-values"), "Ingress").values()
    routes = {(rule["host"], path["path"], path["pathType"]):
              path["backend"]["service"]["name"]
              for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]}
    domain = "flowllama.example.org"
    api, gateway = f"{NAME}-api", f"{NAME}-gateway"
    assert routes == {
        (f"api.{domain}", "/", "Prefix"): api,
        (f"api.{domain}", "/ollama", "Prefix"): gateway,
        (f"tokenapi.{domain}", "/v1", "Prefix"): gateway,
        (f"ollama.{domain}", "/ollama", "Prefix"): gateway,
        (f"ollama.{domain}", "/health", "Exact"): gateway,
        (f"ollama.{domain}", "/models", "Exact"): gateway,
    }
    assert ingress["spec"]["ingressClassName"] == "alb"
    assert ingress["spec"]["tls"] == [{"secretName": "flowllama-tls", "hosts": [
        f"api.{domain}", f"tokenapi.{domain}", f"ollama.{domain}"]}]
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == \
        "letsencrypt-prod"


def test_loadtest_cronjobs(render: Render) -> None:
    jobs = by_kind(render("loadtest-s3-values"), "CronJob")
    assert sorted(jobs) == [f"{NAME}-loadtest-backend", f"{NAME}-loadtest-tokenapi-llama"]
    for job in jobs.values():
        spec = job["spec"]
        assert spec["schedule"] == "0 * * * *"
        assert spec["concurrencyPolicy"] == "Forbid"
        assert spec["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 900
        args = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
        assert args[:2] == ["loadtest", "run"]
        assert args[args.index("--duration") + 1] == "5m"
        assert args[args.index("--results") + 1] == "s3://flowllama-loadtests/hourly"
    args = jobs[f"{NAME}-loadtest-tokenapi-llama"]["spec"]["jobTemplate"]["spec"]["template"][
        "spec"]["containers"][0]["args"]
    assert args[args.index("--token-api-url") + 1] == "https://tokenapi.example.com/v1"
    assert args[args.index("--price-per-hour") + 1] == "0.53"
    on_pvc = by_kind(render("ollama-values"), "CronJob")
    [job] = on_pvc.values()
    volumes = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["volumes"]
    assert {"name": "results", "persistentVolumeClaim": {
        "claimName": f"{NAME}-loadtest-results"}} in volumes
    assert by_kind(render("default-values"), "CronJob") == {}  # off by default


def _secret_values(values_file: str) -> list[str]:
    values = yaml.safe_load((CHART / "ci" / f"{values_file}.yaml").read_text())
    secrets = values.get("secrets", {})
    found = [v for k, v in secrets.items() if isinstance(v, str) and k != "existingSecret"]
    return [*found, *secrets.get("extra", {}).values()]


@pytest.mark.parametrize("values", ["default-values", "ollama-values"])
def test_no_secret_value_in_a_configmap(render: Render, values: str) -> None:
    objects = render(values)
    secrets = [v for v in _secret_values(values) if v]
    assert len(secrets) >= 2
    rendered_secret = next(iter(by_kind(objects, "Secret").values()))
    stored = {base64.b64decode(v).decode() for v in rendered_secret["data"].values()}
    assert set(secrets) <= stored  # every credential is in the Secret...
    for configmap in by_kind(objects, "ConfigMap").values():
        text = yaml.safe_dump(configmap)
        assert not [s for s in secrets if s in text]  # ...and in no ConfigMap
    for spec in pod_specs(objects).values():  # nor inline in a pod's environment
        for container in containers(spec):
            inline = [e.get("value", "") for e in container.get("env", [])]
            assert not [s for s in secrets if s in inline]


def test_existing_secret_is_referenced_not_rendered(render: Render) -> None:
    objects = render("existing-secret-values")
    assert by_kind(objects, "Secret") == {}
    api = by_kind(objects, "Deployment")[f"{NAME}-api"]["spec"]["template"]["spec"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in api["containers"][0]["env"]
            if "valueFrom" in e}
    assert refs["FLOWLLAMA_DATABASE_URL"] == {"name": "flowllama-credentials",
                                              "key": "database-url"}
    assert refs["FLOWLLAMA_AUTH__JWT_SECRET"]["key"] == "jwt-secret"
    assert refs["FLOWLLAMA_MAIL__SMTP_PASSWORD"]["optional"] is True
    assert refs["GOOGLE_APPLICATION_CREDENTIALS_JSON"]["name"] == "flowllama-credentials"
