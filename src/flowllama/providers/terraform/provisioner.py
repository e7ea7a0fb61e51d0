"""The Terraform provisioner: one isolated workspace and state per server of a deployment.

A workspace is named ``resource_name(spec.server_key)`` (``fl-<deployment_id>`` for the first
server, ``fl-<deployment_id>-<slot>`` for the others), as is the stack's ``deployment_name``;
tags and labels keep the deployment id.

``create`` renders the stack's root module and values, runs ``init`` and a saved ``plan``, and
applies only if the plan changes something, so a repeated job or a crash after apply adopts what
exists instead of creating it twice. A failed apply is destroyed and its workspace removed before
the error (``NoCapacity`` or ``ProvisioningFailed``) is raised; a stack whose region has no
foundation raises ``NoFoundation`` (a ``NoCapacity``) before anything is written. ``destroy``
returns only after
Terraform confirms an empty state, then removes the workspace; until then it raises
``NotYetTerminated``. All Terraform runs in child processes (see :mod:`.engine`).
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import structlog

from flowllama.errors import NotYetTerminated, ProviderError, ProvisioningFailed
from flowllama.providers.base import (
    Capabilities,
    DeploymentSpec,
    Handle,
    Placement,
    Provisioner,
    ResourceState,
    Unsupported,
    check_placement,
)
from flowllama.providers.naming import resource_name
from flowllama.providers.terraform.backend import BackendConfig
from flowllama.providers.terraform.engine import Engine, default_engine, engine_env
from flowllama.providers.terraform.failures import CommandFailed, to_provider_error
from flowllama.providers.terraform.interruptions import InterruptionCheck
from flowllama.providers.terraform.options import TerraformOptions
from flowllama.providers.terraform.outputs import (
    handle_data,
    handle_data_from_state,
    resource_state,
)
from flowllama.providers.terraform.session import TerraformSession, held_session
from flowllama.providers.terraform.stacks import (
    FOUNDATION_VARIABLE,
    META_OUTPUT,
    StackDefinition,
    stack_variables,
)
from flowllama.providers.terraform.state_lock import StateLocked
from flowllama.providers.terraform.workspace import Workspace
from flowllama.providers.terraform.workspace_lock import WorkspaceBusy

log = structlog.get_logger(__name__)

FoundationSource = Callable[[str, str], Mapping[str, Any]]
"""``(foundation stack name, region) -> its outputs``; raises ``NoFoundation`` if absent (so
``create`` raises it before any workspace exists, and the agent tries the next offer)."""
CommandHook = Callable[[str, str], None]


class TerraformProvisioner(Provisioner):
    """Provisions deployments with Terraform stacks (one per cloud) under ``root_dir``.

    ``operations`` counts every Terraform command by label (``init``, ``plan``, ``apply``,
    ``refresh``, ``destroy``, ``output``, ``state``, ``force-unlock``); ``on_command(label,
    name)`` is called before each. ``interruptions``, when given, is asked by :meth:`refresh`
    whether the cloud reclaimed a spot server (Terraform's state cannot tell).
    """

    kind: ClassVar[str] = "terraform"

    def __init__(
        self,
        root_dir: Path,
        stacks: Iterable[StackDefinition],
        *,
        backend: BackendConfig | None = None,
        engine: Engine | None = None,
        options: TerraformOptions | None = None,
        env: Mapping[str, str] | None = None,
        on_command: CommandHook | None = None,
        provider_settings: Mapping[str, Mapping[str, Any]] | None = None,
        cloud_values: Mapping[str, Mapping[str, Any]] | None = None,
        foundations: FoundationSource | None = None,
        interruptions: InterruptionCheck | None = None,
    ) -> None:
        self.root_dir = root_dir.resolve()
        self.stacks = {stack.name: stack for stack in stacks}
        self._by_cloud = {stack.cloud: stack for stack in self.stacks.values()}
        if len(self._by_cloud) != len(self.stacks):
            raise ValueError("each cloud needs exactly one stack")
        self.backend = backend or BackendConfig()
        self.engine = engine or default_engine()
        self.options = options or TerraformOptions()
        self.operations: Counter[str] = Counter()
        self._env = engine_env(env)
        self._on_command = on_command
        self._count_lock = threading.Lock()
        self._provider_settings = dict(provider_settings or {})
        self._cloud_values = dict(cloud_values or {})
        self._foundations = foundations
        self.interruptions = interruptions

    @property
    def capabilities(self) -> Capabilities:
        """The clouds with a stack, and every feature some stack declares."""
        features = frozenset().union(*(stack.features for stack in self.stacks.values()))
        return Capabilities(clouds=frozenset(self._by_cloud), features=features)

    def check_capabilities(self, spec: DeploymentSpec, placement: Placement) -> None:
        """The shared rules, against the features of the placement's own stack."""
        stack = self._by_cloud.get(placement.cloud)
        features = stack.features if stack else frozenset()
        caps = Capabilities(clouds=frozenset(self._by_cloud), features=features)
        check_placement(self.kind, caps, spec, placement)

    def create(self, spec: DeploymentSpec, placement: Placement) -> Handle:
        """Apply the placement's stack for ``spec``, or adopt what a previous run applied."""
        self.check_capabilities(spec, placement)
        stack = self._by_cloud[placement.cloud]
        name = resource_name(spec.server_key)
        variables = stack_variables(stack, spec, placement, self._fixed_values(stack, placement))
        meta = {"stack": stack.name, "deployment_id": spec.deployment_id, "slot": spec.slot,
                "user_id": spec.user_id, "placement": placement.to_dict()}
        with self._session(name, "create") as session:
            self._refuse_stack_switch(session.workspace, stack)
            self._render(session.workspace, stack, variables, meta)
            outputs = self._converge(session, clean_up=True)
        log.info("terraform.created", deployment_id=spec.deployment_id, slot=spec.slot,
                 stack_name=stack.name)
        return Handle(self.kind, spec.deployment_id, name,
                      {**handle_data(meta, variables, outputs), "slot": spec.slot})

    def find_all(self, spec: DeploymentSpec) -> list[Handle]:
        """The handles of every slot of the deployment whose state has resources.

        Slots are discovered from the workspaces under ``root_dir``; with a remote backend a
        slot whose local workspace was lost is not listed (the first slot is always probed).
        """
        handles = []
        for slot in self._slots_of(spec.deployment_id):
            handle = self.find(replace(spec, slot=slot))
            if handle is not None:
                handles.append(handle)
        return handles

    def _slots_of(self, deployment_id: str) -> list[str]:
        """The slots that have a workspace (or its lock) here; always the first slot."""
        base = resource_name(deployment_id)
        pattern = re.compile(re.escape(base) + r"(?:-(s[0-9]+))?(?:\.lock)?")
        slots = {""}
        if self.root_dir.is_dir():
            for entry in self.root_dir.iterdir():
                match = pattern.fullmatch(entry.name)
                if match:
                    slots.add(match.group(1) or "")
        return sorted(slots, key=lambda slot: (len(slot), slot))

    def find(self, spec: DeploymentSpec) -> Handle | None:
        """The handle of this server's resources (its slot) if its state has any, else ``None``."""
        name = resource_name(spec.server_key)
        workspace = Workspace(self.root_dir, name)
        if not workspace.exists() and not self.backend.is_remote:
            self._drop_orphan_lock(name)
            return None
        with self._session(name, "find") as session:
            probe = not _is_rendered(workspace)
            if probe:
                self._render_probe(workspace)
            session.init()
            if not session.resources():
                session.discard()
                return None
            data = handle_data_from_state(workspace.read_variables(), session.outputs())
            if probe:
                session.discard()  # only a local cache; later calls rebuild it from the handle
        return Handle(self.kind, spec.deployment_id, name, {**data, "slot": spec.slot})

    def refresh(self, handle: Handle) -> ResourceState:
        """What exists behind ``handle`` now (re-read from the cloud unless disabled), and
        whether the cloud reclaimed it, when an interruption check is configured."""
        return self._with_interruption(handle, self._read_state(handle))

    def _with_interruption(self, handle: Handle, state: ResourceState) -> ResourceState:
        """``state`` with the interruption check's verdict (``reclaimed`` and its detail)."""
        if self.interruptions is None:
            return state
        known = [state.instance_id] if state.instance_id else []
        found = self.interruptions(handle, known)
        if found is None:
            return state
        return replace(state, reclaimed=found.reclaimed,
                       detail=f"{state.detail}; {found.detail}" if state.detail else found.detail)

    def _read_state(self, handle: Handle) -> ResourceState:
        """What Terraform's state (refreshed from the cloud unless disabled) holds."""
        workspace = Workspace(self.root_dir, handle.name)
        if not workspace.exists() and not self.backend.is_remote:
            return ResourceState(exists=False, detail="no workspace: nothing exists")
        with self._session(handle.name, "refresh") as session:
            created_here = not workspace.exists()
            self._prepare(session, handle)
            session.init()
            resources = session.resources()
            if resources and self.options.refresh_from_cloud:
                session.refresh_only()
                resources = session.resources()
            outputs = session.outputs() if resources else {}
            if created_here and not resources:
                session.discard()
        return resource_state(resources, outputs)

    def destroy(self, handle: Handle) -> None:
        """Destroy everything in the handle's state, confirm it is empty, remove the workspace."""
        workspace = Workspace(self.root_dir, handle.name)
        if not workspace.exists() and not self.backend.is_remote:
            self._drop_orphan_lock(handle.name)
            return
        try:
            with self._session(handle.name, "destroy") as session:
                self._prepare(session, handle)
                session.init()
                session.destroy()  # a no-op on an empty state, and cheaper than asking first
                left = session.resources()
                if left:
                    raise NotYetTerminated(f"{handle.name}: {len(left)} resources remain: {left}")
                session.discard()
        except (WorkspaceBusy, StateLocked) as exc:
            raise NotYetTerminated(str(exc)) from exc
        except CommandFailed as exc:
            raise NotYetTerminated(f"destroy of {handle.name} not confirmed: {exc.text}") from exc
        log.info("terraform.destroyed", deployment_id=handle.deployment_id)

    def _fixed_values(self, stack: StackDefinition, placement: Placement) -> dict[str, Any]:
        """The operator's values for the stack's cloud, and its foundation's outputs if any."""
        values = dict(self._cloud_values.get(stack.cloud) or {})
        if stack.foundation is not None:
            if self._foundations is None:
                raise ProvisioningFailed(f"stack {stack.name!r} needs its foundation's outputs, "
                                         "and this provisioner has no foundation source")
            values[FOUNDATION_VARIABLE] = self._foundations(stack.foundation, placement.region)
        return values

    def _converge(self, session: TerraformSession, *, clean_up: bool) -> dict[str, Any]:
        """init + plan, apply only if the plan changes something; returns the raw outputs."""
        try:
            session.init()
            changed = session.plan()
        except CommandFailed as exc:
            if clean_up:
                self._discard_if_empty(session)
            raise to_provider_error(exc.text) from exc
        if not changed:
            log.info("terraform.adopted", workspace=session.workspace.name)
            return session.outputs()
        try:
            reported = session.apply_plan()
        except CommandFailed as exc:
            if not clean_up:
                raise to_provider_error(exc.text) from exc
            raise self._roll_back(session, exc) from exc
        return reported if reported is not None else session.outputs()

    def _roll_back(self, session: TerraformSession, failure: CommandFailed) -> ProviderError:
        """Destroy a half-applied stack; the error to raise says whether that worked."""
        cleanup_error: str | None = None
        try:
            session.destroy()
            left = session.resources()
        except CommandFailed as exc:
            cleanup_error = exc.text
        except ProviderError as exc:
            cleanup_error = str(exc)
        else:
            if left:
                cleanup_error = f"{len(left)} resources remain: {left}"
        if cleanup_error is not None:
            return ProvisioningFailed(
                f"{failure.text}\nclean-up after the failed apply did not finish "
                f"({cleanup_error}); destroy the deployment to remove what is left"
            )
        session.discard()
        return to_provider_error(failure.text, prefix="apply failed and was rolled back: ")

    def _discard_if_empty(self, session: TerraformSession) -> None:
        try:
            empty = not session.resources()
        except CommandFailed:
            state_file = session.workspace.path / "terraform.tfstate"
            empty = not self.backend.is_remote and not state_file.exists()
        if empty:
            session.discard()

    def _render(
        self,
        workspace: Workspace,
        stack: StackDefinition,
        variables: dict[str, Any],
        meta: Mapping[str, Any],
    ) -> None:
        settings = self._provider_settings.get(stack.provider.name) if stack.provider else None
        root = stack.root_module(workspace.path, self.backend.type, variables, settings)
        values = {**variables, META_OUTPUT: dict(meta)}
        workspace.write(root, values, self.backend.render(workspace.name))

    def _render_probe(self, workspace: Workspace) -> None:
        """A root with only the backend: enough to read a remote state we have no files for."""
        root: dict[str, Any] = {"terraform": {"backend": {self.backend.type: {}}}}
        workspace.write(root, {}, self.backend.render(workspace.name))

    def _prepare(self, session: TerraformSession, handle: Handle) -> None:
        """Make sure the workspace has its files: the local ones win, else rebuild from handle."""
        if _is_rendered(session.workspace):
            return
        stack = self._stack_of(handle)
        variables = dict(handle.data.get("variables") or {})
        self._render(session.workspace, stack, variables, dict(handle.data.get("meta") or {}))

    def _refuse_stack_switch(self, workspace: Workspace, stack: StackDefinition) -> None:
        """A deployment moves to another cloud by destroy + create, never by one apply."""
        recorded = (workspace.read_variables() or {}).get(META_OUTPUT) or {}
        previous = recorded.get("stack")
        if previous not in (None, stack.name):
            raise ProvisioningFailed(
                f"{workspace.name} already has a workspace on stack {previous!r}; destroy it "
                f"before placing the deployment on {stack.name!r}"
            )

    def _stack_of(self, handle: Handle) -> StackDefinition:
        meta = handle.data.get("meta") or {}
        stack = self.stacks.get(str(meta.get("stack")))
        if stack is None:
            raise Unsupported(
                f"{handle.name}: handle names no known stack ({meta.get('stack')!r}); "
                f"its workspace is {Workspace(self.root_dir, handle.name).path}"
            )
        return stack

    def _drop_orphan_lock(self, name: str) -> None:
        # A lock file without a workspace is all that is left; take it and remove it.
        with self._session(name, "clean-up"):
            pass

    @contextmanager
    def _session(self, name: str, operation: str) -> Iterator[TerraformSession]:
        with held_session(self.root_dir, name, operation, engine=self.engine,
                          options=self.options, env=self._env,
                          record=lambda label: self._record(label, name)) as session:
            yield session

    def _record(self, label: str, name: str) -> None:
        with self._count_lock:
            self.operations[label] += 1
        if self._on_command is not None:
            self._on_command(label, name)


def _is_rendered(workspace: Workspace) -> bool:
    """Whether the workspace holds a real stack root (a probe root carries no metadata)."""
    return workspace.is_configured() and META_OUTPUT in (workspace.read_variables() or {})
