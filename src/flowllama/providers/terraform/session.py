"""The Terraform commands of one operation on one workspace, run while its lock is held.

Commands that take the state lock get one recovery attempt: if Terraform reports a lock that
:func:`~.state_lock.stale_reason` proves stale, it is force-unlocked and the command rerun; a live
lock is :class:`~.state_lock.StateLocked`. Every command is reported to ``record`` (the
provisioner's counters and hook) under a label such as ``apply`` or ``refresh``.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import structlog

from flowllama.providers.terraform.engine import Engine, EngineResult, run_engine
from flowllama.providers.terraform.failures import CommandFailed, error_text, json_events
from flowllama.providers.terraform.options import TerraformOptions
from flowllama.providers.terraform.state_lock import (
    StateLock,
    StateLocked,
    parse_lock_error,
    stale_reason,
)
from flowllama.providers.terraform.workspace import BACKEND_FILE, PLAN_FILE, Workspace
from flowllama.providers.terraform.workspace_lock import WorkspaceLock

log = structlog.get_logger(__name__)

_COMMON = ("-input=false", "-no-color")
_NO_STATE = "No state file was found"


class TerraformSession:
    """Runs init/plan/apply/destroy/output/state commands for one held workspace."""

    def __init__(
        self,
        engine: Engine,
        workspace: Workspace,
        lock: WorkspaceLock,
        *,
        options: TerraformOptions,
        env: Mapping[str, str],
        record: Callable[[str], None],
    ) -> None:
        self.engine = engine
        self.workspace = workspace
        self.lock = lock
        self.options = options
        self.env = env
        self.record = record
        self.discarded = False

    def init(self) -> None:
        """``terraform init`` with the workspace's backend settings, if any."""
        args = ["init", *_COMMON]
        if self.workspace.backend_file.exists():
            args.append(f"-backend-config={BACKEND_FILE}")
        self._run(args)

    def plan(self) -> bool:
        """Save a plan; ``True`` if it changes anything (``-detailed-exitcode`` 2).

        A plan with no changes is deleted at once: it holds every variable value.
        """
        args = ["plan", *_COMMON, "-json", "-detailed-exitcode", f"-out={PLAN_FILE}"]
        changed = False
        try:
            changed = self._run_locking(args, ok=(0, 2)).returncode == 2
        finally:
            if not changed:
                self.workspace.plan_file.unlink(missing_ok=True)
        return changed

    def apply_plan(self) -> dict[str, Any] | None:
        """Apply the saved plan, then delete it (it holds every variable value).

        Returns the outputs reported by the apply (same shape as :meth:`outputs`), if any.
        """
        try:
            result = self._run_locking(["apply", *_COMMON, "-json", "-auto-approve", PLAN_FILE])
        finally:
            self.workspace.plan_file.unlink(missing_ok=True)
        reported = [e["outputs"] for e in json_events(result.stdout) if e.get("type") == "outputs"]
        return reported[-1] if reported and isinstance(reported[-1], dict) else None

    def destroy(self) -> None:
        """``terraform destroy``."""
        self._run_locking(["destroy", *_COMMON, "-json", "-auto-approve"])

    def refresh_only(self) -> None:
        """Update the state from the real resources (``apply -refresh-only``)."""
        args = ["apply", "-refresh-only", *_COMMON, "-json", "-auto-approve"]
        self._run_locking(args, label="refresh")

    def resources(self) -> list[str]:
        """Managed resource addresses in the state (data sources excluded)."""
        result = self._exec(["state", "list", "-no-color"])
        if result.returncode != 0:
            if _NO_STATE in result.stderr:
                return []
            raise CommandFailed(result)
        lines = [line.strip() for line in result.stdout.splitlines()]
        return [line for line in lines if line and ".data." not in f".{line}"]

    def outputs(self) -> dict[str, Any]:
        """Raw ``terraform output -json``: name → ``{"value", "sensitive", "type"}``."""
        result = self._run(["output", "-json", "-no-color"])
        text = result.stdout.strip()
        data = json.loads(text) if text else {}
        return data if isinstance(data, dict) else {}

    def discard(self) -> None:
        """Delete the workspace; its lock file goes when the lock is released."""
        self.workspace.remove()
        self.discarded = True

    def _exec(self, args: Sequence[str], label: str | None = None) -> EngineResult:
        label = label or args[0]
        self.record(label)
        return run_engine(
            self.engine,
            args,
            cwd=self.workspace.path,
            env=self.env,
            keep_fds=(self.lock.fd,),
            timeout_s=self.options.command_timeout_s,
            grace_s=self.options.interrupt_grace_s,
            on_start=lambda pid: self.lock.set_terraform_pid(pid, label),
        )

    def _run(self, args: Sequence[str], ok: tuple[int, ...] = (0,)) -> EngineResult:
        result = self._exec(args)
        if result.returncode not in ok:
            raise CommandFailed(result)
        return result

    def _run_locking(
        self, args: Sequence[str], ok: tuple[int, ...] = (0,), label: str | None = None
    ) -> EngineResult:
        full = [*args[:1], f"-lock-timeout={self.options.state_lock_timeout_s}s", *args[1:]]
        result = self._exec(full, label)
        if result.returncode not in ok:
            lock = parse_lock_error(error_text(result))
            if lock is None:
                raise CommandFailed(result)
            self._break_stale_lock(lock)
            result = self._exec(full, label)
            if result.returncode not in ok:
                if parse_lock_error(error_text(result)) is not None:
                    raise StateLocked(f"state of {self.workspace.name} is still locked")
                raise CommandFailed(result)
        # The command held the state lock itself, so no stale lock is left to explain.
        self.lock.previous = None
        return result

    def _break_stale_lock(self, lock: StateLock) -> None:
        reason = stale_reason(
            lock,
            self.lock.previous,
            hostname=socket.gethostname(),
            max_age_s=self.options.max_lock_age_s,
        )
        holder = lock.who or "an unknown holder"
        if reason is None:
            raise StateLocked(
                f"state of {self.workspace.name} is locked by {holder} (lock id {lock.id}); "
                "retry later, or run 'terraform force-unlock' if that process is gone"
            )
        log.warning("terraform.stale_lock_broken", workspace=self.workspace.name,
                    lock_id=lock.id, holder=holder, reason=reason)
        self._run(["force-unlock", "-force", lock.id])


@contextmanager
def held_session(
    root: Path,
    name: str,
    operation: str,
    *,
    engine: Engine,
    options: TerraformOptions,
    env: Mapping[str, str],
    record: Callable[[str], None],
) -> Iterator[TerraformSession]:
    """A session on workspace ``root/name`` while its lock is held (waiting for another
    process of ours up to ``options.workspace_wait_s``); the lock file goes with the workspace."""
    workspace = Workspace(root, name)
    lock = WorkspaceLock(workspace.lock_path, operation, options.workspace_wait_s)
    lock.acquire()
    session = TerraformSession(engine, workspace, lock, options=options, env=env, record=record)
    if lock.previous is not None:
        log.warning("terraform.previous_holder_crashed", workspace=name,
                    pid=lock.previous.pid, operation=lock.previous.operation)
    try:
        yield session
    finally:
        lock.release(remove=session.discarded or not workspace.exists())
