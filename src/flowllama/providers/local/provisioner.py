"""The local provisioner: each deployment's runtime as a supervised process on this machine.

``create`` resolves the model (``local/<stem>`` GGUF files inside ``models_dir`` only, or an
Ollama tag from the catalog), checks that the runtime is installed and the model fits the memory
available now, adopts the deployment's live runtime or launches one under a supervisor
(:mod:`.supervisor`), waits for its health check and makes the model ready (an Ollama pull, with
progress). Everything is keyed by the server key (``DeploymentSpec.server_key``: the deployment
id, or ``<deployment_id>-<slot>`` for its other servers): a record under ``<root>/records/``, a
log file, and any supervisor whose command line names the deployment and slot, so a restarted
FlowLlama adopts instead of launching a second copy. Stopping a deployment destroys its
processes; the model file stays.

``shutdown`` (``flowllama up`` exiting) stops every runtime and keeps the records; ``recover``
(start-up) relaunches them, adopts runtimes that survived a killed FlowLlama and stops what no
live deployment owns. ``docs/runtimes.md`` ("Local provisioner") has the whole picture.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import httpx
import structlog

from flowllama.catalog.models import ModelCatalog
from flowllama.errors import NotYetTerminated, ProviderError
from flowllama.providers.base import (
    Capabilities,
    Capability,
    DeploymentSpec,
    Handle,
    Placement,
    Provisioner,
    ResourceState,
)
from flowllama.providers.local import supervision
from flowllama.providers.local.capacity import CapacityCheck, check_capacity
from flowllama.providers.local.instances import LocalInstances
from flowllama.providers.local.logs import log_file, read_log_tail, remove_logs
from flowllama.providers.local.options import LocalOptions
from flowllama.providers.local.records import LocalRecord, StopReason
from flowllama.providers.local.resolve import ResolvedModel
from flowllama.providers.naming import resource_name
from flowllama.runtimes import PullProgress

log = structlog.get_logger(__name__)

# This machine costs nothing extra per hour, so local usage is attributed $0.
LOCAL_PLACEMENT = Placement(cloud="local", region="localhost", instance_type="local-process",
                            price_per_hour=0.0)
"""The one place the local provisioner offers: this machine, no GPU, no price."""

ProgressListener = Callable[[str, PullProgress], None]
"""``on_progress(deployment_id, progress)``: called while a model is made ready. An error it
raises ends the preparation; the runtime is then stopped, except on ``StepAbandoned`` (the
caller no longer owns the deployment, so the runtime is left to whoever does)."""

# Log lines quoted in ``refresh``'s detail when a runtime has died.
DETAIL_LOG_LINES = 10


class LocalProvisioner(Provisioner):
    """Runs deployments as local processes under ``root``, serving models from ``models_dir``.

    ``catalog`` sizes Ollama tags (default: the packaged catalog); ``on_progress`` hears every
    step of getting a model ready, with the deployment id.
    """

    kind: ClassVar[str] = "local"

    def __init__(
        self,
        root: Path,
        models_dir: Path,
        options: LocalOptions | None = None,
        catalog: ModelCatalog | None = None,
        on_progress: ProgressListener | None = None,
    ) -> None:
        self.options = options or LocalOptions()
        self.instances = LocalInstances(root, models_dir, self.options, catalog)
        self.catalog = catalog
        self.on_progress = on_progress

    @property
    def root(self) -> Path:
        """The absolute directory holding ``records/`` and ``logs/``."""
        return self.instances.root

    @property
    def capabilities(self) -> Capabilities:
        """This machine only, without GPUs or spot; runtimes are adopted after a restart."""
        return Capabilities(clouds=frozenset({"local"}), features=frozenset({Capability.ADOPT}))

    # -- the Provisioner contract ---------------------------------------------------------

    def create(self, spec: DeploymentSpec, placement: Placement) -> Handle:
        """Adopt or launch ``spec``'s runtime; return once it is healthy and its model ready.

        Raises, before anything starts: ``Unsupported`` (placement, model name, missing file,
        unknown tag, runtime choice), ``RuntimeNotInstalled``, ``MachineTooSmall`` or
        ``NotEnoughMemory`` (with the numbers). After a launch: ``RuntimeExited`` or
        ``RuntimeStartTimeout`` with the log's last lines, ``ModelNotFound`` or
        ``ModelPullFailed``; the process is stopped and its record removed first. An error
        from ``on_progress`` ends the model's preparation the same way, except
        ``StepAbandoned``, which leaves the runtime as it is.
        """
        self.check_capabilities(spec, placement)
        resolved = self.instances.resolve(spec)
        record = self.instances.ensure_running(spec, resolved)
        self._prepare(record, resolved)
        return _handle(record)

    def find(self, spec: DeploymentSpec) -> Handle | None:
        """The handle of the deployment's record, or of a supervisor nobody recorded."""
        record = self.instances.store.load(spec.server_key)
        if record is not None:
            return _handle(record)
        stray = self._stray(spec.server_key)
        return None if stray is None else _stray_handle(stray)

    def find_all(self, spec: DeploymentSpec) -> list[Handle]:
        """Every server of ``spec``'s deployment, any slot: records, then unrecorded supervisors."""
        records = self.instances.store.of_deployment(spec.deployment_id)
        handles = [_handle(record) for record in records]
        recorded = {record.server_key for record in records}
        for stray in supervision.find_supervisors(self.root):
            if stray.deployment_id == spec.deployment_id and stray.server_key not in recorded:
                recorded.add(stray.server_key)
                handles.append(_stray_handle(stray))
        return handles

    def refresh(self, handle: Handle) -> ResourceState:
        """The deployment's runtime now: running = supervisor alive and health answered within
        ``probe_timeout_s``; a dead runtime's detail quotes its last log lines."""
        key = _server_key(handle)
        record = self.instances.store.load(key)
        if record is None:
            stray = self._stray(key)
            if stray is None:
                return ResourceState(exists=False, detail="no local runtime for this deployment")
            return ResourceState(exists=True, instance_id=f"pid-{stray.pid}",
                                 detail=f"unrecorded supervisor pid {stray.pid}; destroy it")
        if record.stopped_by is not None:
            return ResourceState(
                exists=True, endpoint_url=record.openai_base_url,
                detail=f"stopped at {record.stopped_by}; relaunched when FlowLlama starts again",
            )
        instance_id = f"pid-{record.pid}"
        if not self.instances.alive(record):
            tail = read_log_tail(Path(record.log_path), DETAIL_LOG_LINES)
            detail = f"the runtime has exited (supervisor pid {record.pid} is gone)"
            if tail:
                detail += f". Last lines of {record.log_path}:\n" + "\n".join(tail)
            return ResourceState(exists=True, endpoint_url=record.openai_base_url,
                                 instance_id=instance_id, detail=detail)
        running, detail = self._probe(record)
        return ResourceState(exists=True, running=running, endpoint_url=record.openai_base_url,
                             instance_id=instance_id, detail=detail)

    def destroy(self, handle: Handle) -> None:
        """Stop the server's whole process session, delete its record, wait (bounded) for
        the port to be released. Idempotent; ``NotYetTerminated`` while a process survives."""
        self.instances.stop(_server_key(handle))

    # -- beyond the contract: logs, capacity, start-up and shut-down ----------------------

    def logs(self, deployment_id: str, tail: int) -> list[str]:
        """The last ``tail`` lines (at most 5000) of the deployment's runtime logs, oldest first,
        across rotated files and every slot (a dead server's last lines and its replacement's
        first ones, interleaved by their timestamps); ``[]`` when there is none. Kept after
        ``destroy``."""
        per_slot = [read_log_tail(current, tail)
                    for current in slot_logs(self.instances.logs_dir, deployment_id)]
        merged = list(heapq.merge(*(_stamped(lines) for lines in per_slot if lines)))
        return [line for _, _, line in merged][-tail:] if tail > 0 else []

    def forget(self, deployment_id: str) -> None:
        """Remove the log files of every slot of the deployment (once it is deleted)."""
        for current in slot_logs(self.instances.logs_dir, deployment_id):
            remove_logs(current)

    def check_capacity(self, spec: DeploymentSpec) -> CapacityCheck:
        """Whether ``spec`` fits this machine now, without side effects (the API asks first).

        Raises the ``ClientError`` (field ``model`` or ``runtime``) of a model or runtime that
        cannot be served here.
        """
        return check_capacity(
            spec, self.instances.models_dir, runtimes=self.options.runtimes,
            catalog=self.catalog, memory=self.options.read_memory(),
            reserved_bytes=self.instances.reserved_bytes(exclude=spec.server_key),
        )

    def shutdown(self) -> None:
        """Stop every runtime under ``root`` (``flowllama up`` exiting: no orphan processes);
        their records stay, marked ``stopped_by=shutdown``, for :meth:`recover`."""
        stopped = self.instances.stop_all(StopReason.SHUTDOWN)
        log.info("local.shutdown", stopped=stopped)

    def recover(self, live: set[str]) -> list[str]:
        """Start-up: stop and forget runtimes of deployments not in ``live`` and unrecorded
        supervisors; adopt live runtimes as they are; relaunch, without waiting, the records
        that ``shutdown`` stopped. Returns the server keys relaunched."""
        self.instances.reopen()
        forgotten = self.instances.stop_except(live)
        relaunched = []
        for record in self.instances.store.all():
            if record.stopped_by is StopReason.SHUTDOWN and self._relaunch(record):
                relaunched.append(record.server_key)
        log.info("local.recovered", relaunched=relaunched, forgotten=forgotten)
        return relaunched

    def stop_orphans(self, live: Callable[[], set[str]]) -> list[str]:
        """The agent's sweep: stop and forget runtimes (recorded or not, any slot) of
        deployments that ``live()`` does not name, e.g. a supervisor left for a deployment that
        no longer exists. Returns the server keys forgotten."""
        return self.instances.stop_except(live)

    # -- helpers --------------------------------------------------------------------------

    def _prepare(self, record: LocalRecord, resolved: ResolvedModel) -> None:
        """Make the model ready on the healthy runtime; on failure stop it (nothing left),
        unless the caller abandoned the step (``StepAbandoned``: the runtime is not ours)."""
        deployment = record.deployment_id
        listener = self.on_progress

        def progress(step: PullProgress) -> None:
            if listener is not None:
                listener(deployment, step)

        try:
            with httpx.Client(base_url=record.endpoint_url, trust_env=False,
                              headers=self.options.runtime_headers(deployment)) as client:
                resolved.runtime.prepare(client, resolved.name, progress,
                                         timeout_s=self.options.prepare_timeout_s)
        except ProviderError as exc:  # not StepAbandoned: the runtime may be another agent's
            try:
                self.instances.stop(record.server_key)
            except NotYetTerminated as cleanup:
                raise type(exc)(f"{exc}. Clean-up failed: {cleanup}") from exc
            raise

    def _relaunch(self, record: LocalRecord) -> bool:
        spec = record.spec()
        try:
            self.instances.ensure_running(spec, self.instances.resolve(spec), wait=False)
        except ProviderError as exc:
            # The agent sees no record, so its next create reports the reason to the user.
            log.warning("local.relaunch_failed", deployment_id=record.deployment_id, error=str(exc))
            self.instances.forget_if_stopped(record.server_key)
            return False
        return True

    def _probe(self, record: LocalRecord) -> tuple[bool, str]:
        """Whether the runtime answers its health check, and a detail for the deployment's
        owner: it names the check, not the runtime's address (users reach models only
        through the gateway; operators find the address on the instance)."""
        url = record.health_url
        try:
            response = httpx.get(url, timeout=self.options.probe_timeout_s, trust_env=False,
                                 headers=self.options.runtime_headers(record.deployment_id))
        except httpx.HTTPError as exc:
            return False, f"health check failed: {type(exc).__name__}: {exc}"
        if not response.is_success:
            return False, f"health check answered HTTP {response.status_code}"
        return True, f"{record.runtime} serving {record.model}"

    def _stray(self, server_key: str) -> supervision.Supervised | None:
        found = supervision.find_supervisors(self.root)
        return next((s for s in found if s.server_key == server_key), None)


def _server_key(handle: Handle) -> str:
    """The server key a handle names (handles from before slots existed are slot "")."""
    slot = str(handle.data.get("slot") or "")
    return f"{handle.deployment_id}-{slot}" if slot else handle.deployment_id


def slot_logs(logs_dir: Path, deployment_id: str) -> list[Path]:
    """The current log file of every slot the deployment ever had (``<id>.log``,
    ``<id>-s1.log``, ...)."""
    found = [log_file(logs_dir, deployment_id)]
    if logs_dir.is_dir():
        found += sorted(path for path in logs_dir.glob(f"{deployment_id}-s*.log")
                        if path.stem.removeprefix(f"{deployment_id}-s").isdigit())
    return found


def _stamped(lines: list[str]) -> list[tuple[str, int, str]]:
    """``(timestamp, position, line)`` for merging: a line without the supervisor's leading
    ISO timestamp (a continuation) sorts with the line before it."""
    stamped = []
    stamp = ""
    for position, line in enumerate(lines):
        head = line[:24]
        if len(head) == 24 and head[4] == "-" and head[10] == "T" and head.endswith("Z"):
            stamp = head
        stamped.append((stamp, position, line))
    return stamped


def _handle(record: LocalRecord) -> Handle:
    """The handle of ``record``: the same for the same process, so a repeated create matches."""
    return Handle(
        kind=LocalProvisioner.kind, deployment_id=record.deployment_id,
        name=resource_name(record.server_key),
        data={"pid": record.pid, "start_time": record.start_time, "port": record.port,
              "endpoint_url": record.openai_base_url, "log_path": record.log_path,
              "runtime": record.runtime, "model": record.model, "slot": record.slot},
    )


def _stray_handle(stray: supervision.Supervised) -> Handle:
    """The handle of a supervisor no record describes (so that it can be destroyed)."""
    return Handle(kind=LocalProvisioner.kind, deployment_id=stray.deployment_id,
                  name=resource_name(stray.server_key),
                  data={"pid": stray.pid, "start_time": stray.start_time, "slot": stray.slot})
