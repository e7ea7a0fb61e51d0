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

from flowllama.agent.service import AgentService
from flowllama.db.session import Database
from flowllama.logging import configure_logging
from flowllama.providers import DeploymentSpec, Handle, Placement, Provisioner
from flowllama.providers.local import LocalOptions, LocalProvisioner
from flowllama.providers.local.records import LocalRecord
from flowllama.providers.local.resolve import ResolvedModel
from flowllama.providers.registry import ProvisionerRegistry
from flowllama.providers.terraform import (
    TerraformOptions,
    TerraformProvisioner,
    terraform_data_stack,
)
from flowllama.queue import DatabaseQueue, RetryPolicy

APPLY_DELAY_S = 4
PREPARE_DELAY_S = 6


class SlowBoot(TerraformProvisioner):
    """The real provisioner; every server takes a few seconds to boot, so there is time to
    kill the agent in the middle of the apply."""

    def create(self, spec: DeploymentSpec, placement: Placement) -> Handle:
        spec = dataclasses.replace(spec, extra={"apply_delay_seconds": APPLY_DELAY_S})
        return super().create(spec, placement)


class SlowModel(LocalProvisioner):
    """The real local provisioner; making the model ready takes a few seconds more (as a
    download does), and its start is announced by a file ``entered-<pid>`` beside the root, so
    a test can freeze the agent in the middle of it."""

    def _prepare(self, record: LocalRecord, resolved: ResolvedModel) -> None:
        (self.root.parent / f"entered-{os.getpid()}").touch()
        time.sleep(PREPARE_DELAY_S)
        super()._prepare(record, resolved)


def _provisioner(config: dict[str, object]) -> tuple[str, Provisioner]:
    root = Path(str(config["root"]))
    if "models_dir" in config:
        return "local", SlowModel(root, Path(str(config["models_dir"])),
                                  LocalOptions(threads=1, health_timeout_s=60))
    return "terraform", SlowBoot(root, [terraform_data_stack(Path(str(config["stack"])))],
                                 options=TerraformOptions(state_lock_timeout_s=0))


def main(config: dict[str, object]) -> None:
    configure_logging(role="agent")
    lease_s = float(str(config["lease_s"]))
    database = Database(str(config["db_url"]))
    kind, provisioner = _provisioner(config)
    registry = ProvisionerRegistry()
    registry.register(kind, lambda: provisioner)
    queue = DatabaseQueue(database, policy=RetryPolicy(base_s=0.5, max_s=1.0),
                          lease_s=lease_s)
    on_stop = provisioner.shutdown if isinstance(provisioner, LocalProvisioner) else None
    agent = AgentService(database, queue, registry, workers=1, lease_s=lease_s, poll_s=0.1,
                         sweep_interval_s=1.0, wait_s=0.5,
                         kinds={"test": "terraform", "local": "local"},
                         on_stop=on_stop)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stopping.set())
    agent.start()
    stopping.wait()
    sys.exit(0 if agent.stop(grace_s=60) else 1)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
