"""The runtime processes of the local provisioner: launch, wait for health, adopt, stop.

One supervisor (:mod:`.supervisor`) per server, described by a record (:mod:`.records`); a
deployment's servers (replicas, a blue/green replacement) are told apart by their slot and keyed
by ``DeploymentSpec.server_key``, and each counts against the machine's memory.
"Check capacity, stop strays, spawn, write the record" runs under the records lock, so two
launches cannot both claim the same memory or the same deployment; waiting for health runs
outside it. A failed start stops what it started and removes its record before the error is
raised, unless stopping cannot be confirmed (the message then says so and the record stays, so
``destroy`` can finish the job). Stopping always covers the recorded supervisor *and* any
supervisor the ``/proc`` scan finds for the same deployment (one FlowLlama died before
recording).

With runtime keys on, a runtime that cannot check the key itself (Ollama) runs in a private
network namespace behind a keyed front served by its supervisor (:mod:`.fronting`); the
record's port is the front's.

Once :meth:`LocalInstances.stop_all` has stopped everything for a shutdown, no launch starts
until :meth:`LocalInstances.reopen`: a step still running when ``flowllama up`` exits (a heal
creating its replacement) gets ``ProvisioningFailed`` instead of a runtime that would outlive it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import structlog

from flowllama.catalog.models import ModelCatalog
from flowllama.errors import ClientError, NotYetTerminated, ProvisioningFailed
from flowllama.providers.base import DeploymentSpec, Unsupported
from flowllama.providers.local import fronting, procfs, supervision
from flowllama.providers.local.capacity import CapacityCheck, assess
from flowllama.providers.local.logs import log_file, read_log_tail
from flowllama.providers.local.options import LocalOptions
from flowllama.providers.local.records import LocalRecord, RecordStore, StopReason
from flowllama.providers.local.resolve import ResolvedModel, resolve_model
from flowllama.providers.local.supervision import Supervised
from flowllama.runtimes import RuntimeExited, RuntimeLaunch, wait_healthy

log = structlog.get_logger(__name__)

# A port found free can be taken by another program before the runtime binds it: retry then.
PORT_ATTEMPTS = 3
FAILURE_LOG_LINES = 20

Identity = tuple[int, int]  # (pid, start time) of a supervisor


class LocalInstances:
    """Runtime processes under ``root`` (``records/``, ``logs/``) serving ``models_dir``."""

    def __init__(self, root: Path, models_dir: Path, options: LocalOptions,
                 catalog: ModelCatalog | None = None) -> None:
        # Absolute, because supervisors are recognised by this exact string on their command line.
        self.root = root.resolve()
        self.models_dir = models_dir.resolve()
        self.options = options
        self.catalog = catalog
        self.store = RecordStore(self.root / "records")
        self.logs_dir = self.root / "logs"
        self.boot_id = procfs.boot_id()
        self.closed = False  # set (under the records lock) by a shutdown; see the module doc

    # -- model, capacity ------------------------------------------------------------------

    def resolve(self, spec: DeploymentSpec) -> ResolvedModel:
        """:func:`resolve_model` with the refusals made non-retryable provider errors."""
        try:
            return resolve_model(spec, self.models_dir, runtimes=self.options.runtimes,
                                 catalog=self.catalog)
        except ClientError as exc:
            raise Unsupported(exc.message) from exc

    def capacity(self, spec: DeploymentSpec, resolved: ResolvedModel) -> CapacityCheck:
        """Whether ``spec`` fits now, counting what other live deployments still have to load."""
        return assess(resolved, spec.context_size, self.options.read_memory(),
                      self.reserved_bytes(exclude=spec.server_key))

    def reserved_bytes(self, exclude: str | None = None) -> int:
        """Memory that live servers (every slot counts) are sized for but do not hold now
        (still loading); ``exclude`` is a server key."""
        reserved = 0
        for record in self.store.all():
            identity = self.identity(record)
            if record.server_key == exclude or identity is None:
                continue
            members = [info.pid for info in procfs.session_members(*identity)]
            if members:
                reserved += max(0, record.needed_bytes - procfs.resident_bytes(members))
        return reserved

    # -- liveness -------------------------------------------------------------------------

    def identity(self, record: LocalRecord) -> Identity | None:
        """The record's supervisor as (pid, start time), or None if it cannot still run."""
        if record.pid is None or record.start_time is None or record.boot_id != self.boot_id:
            return None
        return record.pid, record.start_time

    def alive(self, record: LocalRecord) -> bool:
        """Whether the record's supervisor (same boot, pid and start time) still runs."""
        identity = self.identity(record)
        return identity is not None and supervision.alive(*identity)

    # -- start ----------------------------------------------------------------------------

    def ensure_running(self, spec: DeploymentSpec, resolved: ResolvedModel, *,
                       wait: bool = True) -> LocalRecord:
        """Adopt the live runtime of ``spec``'s deployment, or launch one; with ``wait``,
        return only once it answers its health check.

        Raises ``RuntimeNotInstalled``, ``NotEnoughMemory``/``MachineTooSmall`` and
        ``Unsupported`` (a runtime that would have to run isolated, where it cannot be) before
        anything starts, ``RuntimeExited``/``RuntimeStartTimeout`` (with the log tail) after.
        """
        resolved.runtime.ensure_installed()
        # Decided once per launch; refuses before anything starts when it cannot be isolated.
        isolated = fronting.isolated(self.options, resolved.runtime)
        previous = self.store.load(spec.server_key)
        port = previous.port if previous is not None else None  # keep the endpoint stable
        attempt = 1
        while True:
            record, adopted = self._adopt_or_launch(spec, resolved, port, isolated)
            if not wait:
                return record
            try:
                return self._await_healthy(record)
            except RuntimeExited:
                if adopted or attempt >= PORT_ATTEMPTS or supervision.port_is_free(record.port):
                    raise
                log.warning("local.port_taken", port=record.port, server=spec.server_key)
                attempt += 1
                port = None

    def _adopt_or_launch(self, spec: DeploymentSpec, resolved: ResolvedModel,
                         port: int | None, isolated: bool) -> tuple[LocalRecord, bool]:
        key = spec.server_key
        with self.store.lock():
            if self.closed:
                raise ProvisioningFailed("FlowLlama is shutting down; the runtime starts again "
                                         "when it runs again")
            record = self.store.load(key)
            if (record is not None and self.alive(record) and _serves(record, spec, resolved)
                    and record.keyed == fronting.keyed(self.options, resolved.runtime,
                                                       isolated)):
                return record, True
            # Dead, stopped or serving an older spec: clear it and any stray, start afresh.
            left = self._stop([record] if record else [], lambda s: s.server_key == key)
            if left:
                raise ProvisioningFailed(
                    f"the previous runtime of server {key} could not be stopped; "
                    "destroy must be retried before it can start again"
                )
            self.store.delete(key)
            check = self.capacity(spec, resolved)
            refusal = check.error()
            if refusal is not None:
                raise refusal
            return self._launch(spec, resolved, port, check.needed_bytes, isolated), False

    def _launch(self, spec: DeploymentSpec, resolved: ResolvedModel, port: int | None,
                needed_bytes: int, isolated: bool) -> LocalRecord:
        if port is None or not supervision.port_is_free(port):
            port = supervision.free_port()
        launch = RuntimeLaunch(
            port=port, model=resolved.name, models_dir=self.models_dir,
            context_size=spec.context_size, parallel=resolved.parallel,
            keep_alive_s=self.options.keep_alive_s, threads=self.options.threads,
            model_path=resolved.model_file, extra_env=self.options.extra_env,
            api_key=self.options.runtime_key(spec.deployment_id),
        )
        runtime = resolved.runtime
        logs = log_file(self.logs_dir, spec.server_key)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        runtime_command, env, front = fronting.runtime_process(
            self.options, self.root, spec.server_key, runtime, launch, is_isolated=isolated)
        command = supervision.supervisor_command(
            python=self.options.python, root=self.root, deployment_id=spec.deployment_id,
            log_file=logs, max_bytes=self.options.log_max_bytes,
            backups=self.options.log_backups, runtime_command=runtime_command,
            slot=spec.slot, front=front,
        )
        started = supervision.spawn(spec.deployment_id, command, env, cwd=self.root,
                                    slot=spec.slot)
        log.info("local.launched", deployment_id=spec.deployment_id, slot=spec.slot,
                 pid=started.pid, port=port,
                 runtime=runtime.name, model=resolved.name)
        return self.store.save(LocalRecord(
            deployment_id=spec.deployment_id, user_id=spec.user_id, name=spec.name,
            model=resolved.name, requested_runtime=spec.runtime, runtime=runtime.name,
            context_size=spec.context_size, parallel=spec.parallel, boot_id=self.boot_id,
            pid=started.pid, start_time=started.start_time, port=port,
            endpoint_url=launch.base_url, openai_base_url=runtime.openai_base_url(launch),
            health_url=runtime.health_url(launch), log_path=str(logs), needed_bytes=needed_bytes,
            keyed=fronting.keyed(self.options, runtime, isolated), slot=spec.slot,
        ))

    def _await_healthy(self, record: LocalRecord) -> LocalRecord:
        assert record.pid is not None and record.start_time is not None
        watched = supervision.Watched(record.pid, record.start_time)
        try:
            wait_healthy(record.health_url, "", self.options.health_timeout_s, watched,
                         headers=self.options.runtime_headers(record.deployment_id))
        except ProvisioningFailed as exc:
            raise type(exc)(self._fail_start(record, str(exc))) from exc
        return record

    def _fail_start(self, record: LocalRecord, reason: str) -> str:
        """Stop and forget a runtime that did not start; the error message to raise."""
        left = self._stop([record], lambda _found: False)
        tail = read_log_tail(Path(record.log_path), FAILURE_LOG_LINES)
        message = f"{reason}. Last lines of {record.log_path}:\n" + "\n".join(tail)
        if left:
            return (f"{message}\nClean-up failed: supervisor pid {record.pid} could not be "
                    "confirmed stopped; destroy must be retried")
        with self.store.lock():
            current = self.store.load(record.server_key)
            if current is not None and _same_process(current, record):
                self.store.delete(record.server_key)  # unless a newer launch replaced it
        return message

    # -- stop -----------------------------------------------------------------------------

    def stop(self, server_key: str) -> LocalRecord | None:
        """Stop the runtime of one server (recorded or stray) and delete its record.

        Returns the record there was. Raises ``NotYetTerminated`` while any of its processes
        may still run (the record is kept, so a retry finds them again).
        """
        with self.store.lock():
            record = self.store.load(server_key)
            left = self._stop([record] if record else [],
                              lambda found: found.server_key == server_key)
            if left:
                raise NotYetTerminated(
                    f"the runtime of server {server_key} still runs "
                    f"{self.options.stop_grace_s + self.options.kill_wait_s:g}s after it was "
                    "told to stop; destroy again"
                )
            self.store.delete(server_key)
        if record is not None:
            self.wait_port_released(record)
        return record

    def stop_all(self, reason: StopReason) -> list[str]:
        """Stop every runtime under this root and launch none until :meth:`reopen`; records
        of confirmed ones are kept as stopped with ``reason``. Returns the server keys whose
        records were marked."""
        with self.store.lock():
            self.closed = True
            records = [r for r in self.store.all() if r.stopped_by is None]
            left = self._stop(records, lambda _found: True)
            marked = []
            for record in records:
                if record.server_key in left:
                    log.error("local.stop_unconfirmed", server=record.server_key,
                              pid=record.pid)
                    continue
                self.store.save(record.as_stopped(reason))
                marked.append(record.server_key)
        return marked

    def reopen(self) -> None:
        """Allow launches again (the agent starts)."""
        with self.store.lock():
            self.closed = False

    def stop_except(self, live: set[str] | Callable[[], set[str]]) -> list[str]:
        """Stop and forget what is not in ``live`` (deployment ids: every slot of a live
        deployment stays) and supervisors no record describes; the server keys forgotten. A
        callable ``live`` is asked while the records lock is held, so no runtime launched after
        the answer can be taken for one that nobody owns."""
        with self.store.lock():
            if callable(live):
                live = live()
            records = self.store.all()
            recorded = {self.identity(r) for r in records} - {None}
            gone = [r for r in records if r.deployment_id not in live]
            left = self._stop(gone, lambda found: found.deployment_id not in live
                              or (found.pid, found.start_time) not in recorded)
            forgotten = [r.server_key for r in gone if r.server_key not in left]
            for server_key in forgotten:
                self.store.delete(server_key)
        return forgotten

    def forget_if_stopped(self, server_key: str) -> None:
        """Delete the record if it is still a stopped one (a relaunch failed before spawning)."""
        with self.store.lock():
            record = self.store.load(server_key)
            if record is not None and record.stopped_by is not None:
                self.store.delete(server_key)

    def wait_port_released(self, record: LocalRecord) -> None:
        """Give the port a bounded moment to be released; a foreign holder is only logged."""
        if not supervision.wait_port_free(record.port, self.options.port_wait_s):
            # Every process of the session is gone, so another program holds it now.
            log.warning("local.port_still_busy", port=record.port, server=record.server_key)

    def _stop(self, records: Sequence[LocalRecord],
              select: Callable[[Supervised], bool]) -> set[str]:
        """Stop, all at once, the sessions of ``records`` and of the supervisors under this root
        that ``select`` picks; the server keys of which something may still run."""
        targets: dict[Identity, str] = {}
        for record in records:
            identity = self.identity(record)
            if identity is not None:
                targets[identity] = record.server_key
        for found in supervision.find_supervisors(self.root):
            if select(found):
                targets[(found.pid, found.start_time)] = found.server_key
        if not targets:
            return set()
        log.info("local.stopping", pids=[pid for pid, _ in targets])
        results = supervision.terminate(list(targets), self.options.stop_grace_s,
                                        self.options.kill_wait_s)
        return {deployment for deployment, stopped in zip(targets.values(), results, strict=True)
                if not stopped}


def _serves(record: LocalRecord, spec: DeploymentSpec, resolved: ResolvedModel) -> bool:
    """Whether the recorded runtime was launched for what ``spec`` asks now."""
    return (record.model == resolved.name and record.runtime == resolved.runtime.name
            and record.context_size == spec.context_size and record.parallel == spec.parallel)


def _same_process(a: LocalRecord, b: LocalRecord) -> bool:
    return (a.boot_id, a.pid, a.start_time) == (b.boot_id, b.pid, b.start_time)
