"""Foundation stacks: the per-cloud, per-region base (network, identities, model bucket) that
every deployment's stack builds on, applied by an operator (``flowllama cloud init``).

A foundation lives in its own workspace, ``foundation-<cloud>-<region>-<environment>``, next
to the deployments' and on the same state backend, so its outputs are read the same way
wherever the state is: ``terraform output`` in that workspace (local state, or S3/GCS state
rebuilt into a fresh workspace on another host). The agent reads them when it creates a
deployment and passes them to the deployment's stack as one typed ``foundation`` variable
(JSON in ``terraform.tfvars.json``); they are recorded with the deployment's handle, so its
destroy never needs the foundation again.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from flowllama.errors import NoFoundation, ProvisioningFailed
from flowllama.providers.terraform.backend import BackendConfig
from flowllama.providers.terraform.engine import Engine, engine_env
from flowllama.providers.terraform.failures import CommandFailed
from flowllama.providers.terraform.options import TerraformOptions
from flowllama.providers.terraform.outputs import output_values
from flowllama.providers.terraform.session import TerraformSession, held_session
from flowllama.providers.terraform.stacks import META_OUTPUT, StackDefinition

_REGION = re.compile(r"^[a-z0-9-]{2,40}$")
CACHE_S = 300.0  # a foundation changes only by an operator's cloud init


class Foundations:
    """Applies, destroys and reads foundation stacks under ``root_dir``.

    ``cloud_values`` are the operator's fixed values per cloud: ``environment`` (which
    foundation set, default ``prod``), the GCP ``project``... ``on_command(label, name)`` is
    called before each Terraform command (progress display).
    """

    def __init__(
        self,
        root_dir: Path,
        stacks: Iterable[StackDefinition],
        *,
        engine: Engine,
        backend: BackendConfig | None = None,
        options: TerraformOptions | None = None,
        env: Mapping[str, str] | None = None,
        provider_settings: Mapping[str, Mapping[str, Any]] | None = None,
        cloud_values: Mapping[str, Mapping[str, Any]] | None = None,
        on_command: Callable[[str, str], None] | None = None,
    ) -> None:
        self.root_dir = root_dir.resolve()
        self.stacks = {stack.name: stack for stack in stacks}
        self.engine = engine
        self.backend = backend or BackendConfig()
        self.options = options or TerraformOptions()
        self._env = engine_env(env)
        self._provider_settings = dict(provider_settings or {})
        self._cloud_values = dict(cloud_values or {})
        self._on_command = on_command
        self._cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
        self._cache_lock = threading.Lock()

    def stack_for(self, cloud: str) -> StackDefinition:
        """The foundation stack of ``cloud``."""
        for stack in self.stacks.values():
            if stack.cloud == cloud:
                return stack
        raise ProvisioningFailed(f"no foundation stack for cloud {cloud!r}")

    def environment(self, cloud: str) -> str:
        """The operator's environment name for ``cloud`` (default ``prod``)."""
        return str((self._cloud_values.get(cloud) or {}).get("environment") or "prod")

    def workspace_name(self, stack: StackDefinition, region: str) -> str:
        """``foundation-aws-us-east-1-prod``: the workspace and state key of one foundation."""
        if not _REGION.fullmatch(region):
            raise ValueError(f"region {region!r} is not a cloud region name")
        return f"foundation-{stack.cloud}-{region}-{self.environment(stack.cloud)}"

    def variables(self, stack: StackDefinition, region: str) -> dict[str, Any]:
        """The foundation's input values: name, region, environment, tags, operator values."""
        environment = self.environment(stack.cloud)
        common = {
            **(self._cloud_values.get(stack.cloud) or {}),
            "name": f"flowllama-{environment}",
            "region": region,
            "environment": environment,
            "tags": {"project": "flowllama", "environment": environment},
            "labels": {"project": "flowllama", "environment": environment},
        }
        return {name: value for name, value in common.items() if name in stack.variables}

    def apply(self, cloud: str, region: str) -> dict[str, Any]:
        """Create or update the foundation of ``cloud`` in ``region``; returns its outputs."""
        stack = self.stack_for(cloud)
        name = self.workspace_name(stack, region)
        with self._session(name, "foundation-apply") as session:
            self._render(session, stack, region)
            try:
                session.init()
                if session.plan():
                    session.apply_plan()
                outputs = output_values(session.outputs())
            except CommandFailed as exc:
                raise ProvisioningFailed(exc.text) from exc
        self._remember(stack.name, region, outputs)
        return outputs

    def destroy(self, cloud: str, region: str) -> None:
        """Destroy the foundation (deployments using it must be gone first)."""
        stack = self.stack_for(cloud)
        name = self.workspace_name(stack, region)
        with self._session(name, "foundation-destroy") as session:
            self._render(session, stack, region)
            try:
                session.init()
                session.destroy()
                left = session.resources()
            except CommandFailed as exc:
                raise ProvisioningFailed(exc.text) from exc
            if left:
                raise ProvisioningFailed(f"{name}: {len(left)} resources remain: {left}")
            session.discard()
        with self._cache_lock:
            self._cache.pop((stack.name, region), None)

    def outputs(self, stack_name: str, region: str) -> dict[str, Any]:
        """The outputs of foundation ``stack_name`` in ``region`` (cached a few minutes).

        Raises ``NoFoundation`` naming the command to run when it was never applied there (the
        agent then skips the region's offers and tries the next), ``ProvisioningFailed`` when
        its state cannot be read.
        """
        with self._cache_lock:
            cached = self._cache.get((stack_name, region))
        if cached is not None and time.monotonic() - cached[0] < CACHE_S:
            return dict(cached[1])
        stack = self.stacks.get(stack_name)
        if stack is None:
            raise ProvisioningFailed(f"unknown foundation stack {stack_name!r}")
        name = self.workspace_name(stack, region)
        with self._session(name, "foundation-read") as session:
            self._render(session, stack, region)
            try:
                session.init()
                outputs = output_values(session.outputs()) if session.resources() else {}
            except CommandFailed as exc:
                raise ProvisioningFailed(exc.text) from exc
        if not outputs:
            environment = self.environment(stack.cloud)
            raise NoFoundation(
                f"no {stack.cloud} foundation in {region} (environment {environment}): "
                f"run 'flowllama cloud init {stack.cloud} --region {region} "
                f"--environment {environment}' first")
        self._remember(stack_name, region, outputs)
        return outputs

    __call__ = outputs  # a Foundations is the provisioner's FoundationSource

    def _remember(self, stack_name: str, region: str, outputs: dict[str, Any]) -> None:
        with self._cache_lock:
            self._cache[(stack_name, region)] = (time.monotonic(), dict(outputs))

    def _render(self, session: TerraformSession, stack: StackDefinition, region: str) -> None:
        variables = self.variables(stack, region)
        settings = self._provider_settings.get(stack.provider.name) if stack.provider else None
        workspace = session.workspace
        root = stack.root_module(workspace.path, self.backend.type, variables, settings)
        meta = {"stack": stack.name, "region": region,
                "environment": self.environment(stack.cloud)}
        workspace.write(root, {**variables, META_OUTPUT: meta},
                        self.backend.render(workspace.name))

    def _session(self, name: str, operation: str
                 ) -> AbstractContextManager[TerraformSession]:
        def record(label: str) -> None:
            if self._on_command is not None:
                self._on_command(label, name)

        return held_session(self.root_dir, name, operation, engine=self.engine,
                            options=self.options, env=self._env, record=record)
