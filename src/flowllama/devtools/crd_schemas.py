"""JSON schemas of the Prometheus Operator's ServiceMonitor and PrometheusRule, for checking
rendered custom resources offline (kubernetes-validate has built-in kinds only).

They are generated from PyPI ``cloudcoil-models-prometheus-operator`` (pydantic models that
its authors generate from the operator's CRDs): installed with ``--no-deps`` into a scratch
directory of the tools cache, asked for each model's JSON schema by a separate interpreter (the
project's environment never imports them), and made strict like ``kubernetes-validate
--strict``: every object that lists its properties gets ``additionalProperties: false``, so an
unknown or misspelt field fails. Built once (``<cache>/crd-schemas-v1``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from flowllama.devtools.tools_cache import ToolUnavailable, cached_directory, run_tool

ENTRY = "crd-schemas-v1"
PACKAGES = ("cloudcoil==0.6.0", "cloudcoil-models-prometheus-operator==0.80.1.0")
KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor",
         ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule"}

_DUMP = """
import json, sys
from cloudcoil.models.prometheus_operator import v1
for kind, name in (("ServiceMonitor", "servicemonitor"), ("PrometheusRule", "prometheusrule")):
    schema = getattr(v1, kind).model_json_schema(by_alias=True, mode="validation")
    with open(f"{sys.argv[1]}/{name}.json", "w") as handle:
        json.dump(schema, handle, indent=1, sort_keys=True)
"""


def crd_schema_dir(cache_dir: Path | None = None) -> Path:
    """The directory of ``<kind>.json`` schemas, generated on first use."""
    return cached_directory(ENTRY, _build, cache_dir)


def _build(work: Path, _final: Path) -> None:
    packages = work / ".packages"
    run_tool([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
              "--disable-pip-version-check", "--target", str(packages), *PACKAGES],
             "pip install " + " ".join(PACKAGES))
    env = {**os.environ, "PYTHONPATH": str(packages)}
    try:
        subprocess.run([sys.executable, "-c", _DUMP, str(work)],  # noqa: S603 - our code
                       env=env, check=True, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        raise ToolUnavailable(f"generating the CRD schemas failed: {exc}\n{detail[-2000:]}"
                              ) from exc
    for path in work.glob("*.json"):
        path.write_text(json.dumps(strict(json.loads(path.read_text()))), encoding="utf-8")
    shutil.rmtree(packages)


def strict(schema: Any) -> Any:
    """``schema`` with ``additionalProperties: false`` on every object that lists properties
    and says nothing about others (recursively, ``$defs`` included)."""
    if isinstance(schema, dict):
        out = {key: strict(value) for key, value in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


def is_custom(obj: dict[str, Any]) -> bool:
    """Whether ``obj`` is one of the custom kinds these schemas cover."""
    return (obj.get("apiVersion"), obj.get("kind")) in KINDS


def validate_custom(obj: dict[str, Any], schema_dir: Path) -> list[str]:
    """Every schema error of a ServiceMonitor or PrometheusRule, as ``kind/name: path:
    message``."""
    import jsonschema  # a dependency of kubernetes-validate (dev extra)

    name = KINDS[(str(obj.get("apiVersion")), str(obj.get("kind")))]
    schema = json.loads((schema_dir / f"{name}.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    label = f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
    return [f"{label}: {'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
            for error in validator.iter_errors(obj)]
