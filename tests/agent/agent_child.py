"""Runs an agent (one worker) until SIGTERM, so a test can SIGKILL or SIGSTOP it in the middle
of provisioning and start another.

Usage: ``python agent_child.py '<json config>'`` with ``db_url``, ``root`` (workspaces, or the
local provisioner's root), ``lease_s`` and either ``stack`` (the Terraform test stack's
directory) or ``models_dir`` (the local provisioner on llama.cpp, the tiny model). Logs JSON
lines on stdout. Not a test module.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import httpx

from flowllama.agent.leases import HeldLeases
from flowllama.agent.progress import ProgressRecorder
from flowllama.agent.service import AgentService
from flowllama.db.session import Database
from flowllama.logging import configure_logging
from flowllama.providers import DeploymentSpec, Handle, Placement, Provisioner
from flowllama.providers.local import LocalOptions, LocalProvisioner
from flowllama.providers.registry import ProvisionerRegistry
from flowllama.providers.terraform import (
    TerraformOptions,
    TerraformProvisioner,
    terraform_data_stack,
)
from flowllama.queue import DatabaseQueue, RetryPolicy
from flowllama.runtimes import LlamaCppRuntime, ProgressCallback, PullProgress
from flowllama.runtimes.base import DEFAULT_PREPARE_TIMEOUT_S

APPLY_DELAY_S = 4
PREPARE_DELAY_S = 6
PREPARE_TICKS = 6


class SlowBoot(TerraformProvisioner):
    """The real provisioner; every server takes a few seconds to boot, so there is time to
    kill the agent in the middle of the apply."""

    def create(self, spec: DeploymentSpec, placement: Placement) -> Handle:
        spec = dataclasses.replace(spec, extra={"apply_delay_seconds": APPLY_DELAY_S})
        return super().create(spec, placement)


class SlowLlamaCpp(LlamaCppRuntime):
    """The real llama.cpp runtime; making its model ready first reports progress once a
    second for a few seconds (as a download does). Files in ``marks`` announce its start
    (``entered-<pid>``, so a test can freeze the agent in the middle of it) and its end
    (``prepared-<pid>``)."""

    def __init__(self, marks: Path) -> None:
        super().__init__()
        self.marks = marks

    def prepare(self, client: httpx.Client, model: str,
                progress: ProgressCallback | None = None, *,
                timeout_s: float = DEFAULT_PREPARE_TIMEOUT_S) -> None:
        (self.marks / f"entered-{os.getpid()}").touch()
        for tick in range(1, PREPARE_TICKS + 1):
            time.sleep(PREPARE_DELAY_S / PREPARE_TICKS)
            if progress is not None:
                progress(PullProgress("loading", tick / PREPARE_TICKS))
        super().prepare(client, model, progress, timeout_s=timeout_s)
        (self.marks / f"prepared-{os.getpid()}").touch()


class SlowModel(LocalProvisioner):
    """The real local provisioner on :class:`SlowLlamaCpp`; each create and destroy it is
    asked for is written down, before it happens, as a line of ``effects-<pid>`` beside the
    root."""

    def create(self, spec: DeploymentSpec, placement: Placement) -> Handle:
        self._effect(f"create {spec.server_key}")
        return super().create(spec, placement)

    def destroy(self, handle: Handle) -> None:
        self._effect(f"destroy {handle.name}")
        super().destroy(handle)

    def _effect(self, line: str) -> None:
        with (self.root.parent / f"effects-{os.getpid()}").open("a") as out:
            out.write(line + "\n")


def _provisioner(config: dict[str, object], held: HeldLeases,
                 database: Database) -> tuple[str, Provisioner]:
    root = Path(str(config["root"]))
    if "models_dir" in config:
        options = LocalOptions(threads=1, health_timeout_s=60,
                               runtimes={"llamacpp": SlowLlamaCpp(root.parent)})
        return "local", SlowModel(root, Path(str(config["models_dir"])), options,
                                  on_progress=ProgressRecorder(database, held))
    return "terraform", SlowBoot(root, [terraform_data_stack(Path(str(config["stack"])))],
                                 options=TerraformOptions(state_lock_timeout_s=0))


def main(config: dict[str, object]) -> None:
    configure_logging(role="agent")
    lease_s = float(str(config["lease_s"]))
    database = Database(str(config["db_url"]))
    held = HeldLeases()  # shared by the agent and the progress recorder, as in production
    kind, provisioner = _provisioner(config, held, database)
    registry = ProvisionerRegistry()
    registry.register(kind, lambda: provisioner)
    queue = DatabaseQueue(database, policy=RetryPolicy(base_s=0.5, max_s=1.0),
                          lease_s=lease_s)
    on_stop = provisioner.shutdown if isinstance(provisioner, LocalProvisioner) else None
    agent = AgentService(database, queue, registry, workers=1, lease_s=lease_s, poll_s=0.1,
                         sweep_interval_s=1.0, wait_s=0.5,
                         kinds={"test": "terraform", "local": "local"},
                         on_stop=on_stop, held=held)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stopping.set())
    agent.start()
    stopping.wait()
    sys.exit(0 if agent.stop(grace_s=60) else 1)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
