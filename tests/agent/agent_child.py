"""Runs an agent (one worker) over the Terraform test stack until SIGTERM, so a test can
SIGKILL it in the middle of provisioning and start another.

Usage: ``python agent_child.py '<json config>'`` with ``db_url``, ``root`` (workspaces),
``stack`` (the test stack's directory) and ``lease_s``. Not a test module.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import sys
import threading
from pathlib import Path

from flowllama.agent.service import AgentService
from flowllama.db.session import Database
from flowllama.providers import DeploymentSpec, Handle, Placement
from flowllama.providers.registry import ProvisionerRegistry
from flowllama.providers.terraform import (
    TerraformOptions,
    TerraformProvisioner,
    terraform_data_stack,
)
from flowllama.queue import DatabaseQueue, RetryPolicy

APPLY_DELAY_S = 4


class SlowBoot(TerraformProvisioner):
    """The real provisioner; every server takes a few seconds to boot, so there is time to
    kill the agent in the middle of the apply."""

    def create(self, spec: DeploymentSpec, placement: Placement) -> Handle:
        spec = dataclasses.replace(spec, extra={"apply_delay_seconds": APPLY_DELAY_S})
        return super().create(spec, placement)


def main(config: dict[str, object]) -> None:
    lease_s = float(str(config["lease_s"]))
    database = Database(str(config["db_url"]))
    provisioner = SlowBoot(Path(str(config["root"])),
                           [terraform_data_stack(Path(str(config["stack"])))],
                           options=TerraformOptions(state_lock_timeout_s=0))
    registry = ProvisionerRegistry()
    registry.register("terraform", lambda: provisioner)
    queue = DatabaseQueue(database, policy=RetryPolicy(base_s=0.5, max_s=1.0),
                          lease_s=lease_s)
    agent = AgentService(database, queue, registry, workers=1, lease_s=lease_s, poll_s=0.1,
                         sweep_interval_s=1.0, wait_s=0.5, kinds={"test": "terraform"})
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stopping.set())
    agent.start()
    stopping.wait()
    sys.exit(0 if agent.stop(grace_s=60) else 1)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
