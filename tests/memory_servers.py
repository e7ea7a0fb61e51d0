"""An in-memory provisioner for the agent's tests (worker, lease loss, runtime address): what
the reconciler needs of a provisioner, with no process or cloud behind it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import ClassVar

from flowllama.errors import ProvisioningFailed
from flowllama.providers.base import (
    Capabilities,
    DeploymentSpec,
    Handle,
    Placement,
    Provisioner,
    ResourceState,
)


def server_key(handle: Handle) -> str:
    """A handle's server key, as :attr:`DeploymentSpec.server_key` names it."""
    slot = handle.data.get("slot") or ""
    return f"{handle.deployment_id}-{slot}" if slot else handle.deployment_id


class MemoryServers(Provisioner):
    """Servers in memory, one per server key (deployment and slot), keeping the contract the
    agent relies on: ``find`` adopts what ``create`` made, ``find_all`` lists a deployment's
    servers, ``destroy`` is idempotent. Each server answers at ``http://<address>/<key>/v1``.

    What tests set: ``failures`` (that many ``create`` calls raise ``error`` first),
    ``create_s`` (a slow create), ``serving`` (False: the servers exist but never come up),
    ``on_find`` (runs inside ``find``: a moment in the middle of a step). ``creates`` counts
    ``create`` calls, failed ones included; ``effects`` lists every create, destroy and
    forget in order, as ``(call, slot)`` (``forget``: ``(call, deployment id)``).
    """

    kind: ClassVar[str] = "memory"

    def __init__(self, *, clouds: Iterable[str] = ("local",), address: str = "127.0.0.1:9",
                 failures: int = 0, error: Exception | None = None,
                 create_s: float = 0.0) -> None:
        self.clouds = frozenset(clouds)
        self.address = address
        self.failures = failures
        self.error = error or ProvisioningFailed("the cloud said no")
        self.create_s = create_s
        self.creates = 0
        self.serving = True
        self.on_find: Callable[[], object] | None = None
        self.live: dict[str, Handle] = {}
        self.effects: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(clouds=self.clouds, features=frozenset())

    def add(self, deployment_id: str, slot: str = "") -> Handle:
        """A server that exists without this ``create``: a crashed step's, another agent's."""
        handle = Handle(self.kind, deployment_id, f"fl-{deployment_id}-{slot}", {"slot": slot})
        self.live[server_key(handle)] = handle
        return handle

    def slots(self) -> list[str]:
        """The slots of the live servers, sorted."""
        return sorted(handle.data["slot"] for handle in self.live.values())

    def create(self, spec: DeploymentSpec, placement: Placement) -> Handle:
        with self._lock:
            self.creates += 1
            if self.failures > 0:
                self.failures -= 1
                raise self.error
        time.sleep(self.create_s)
        self.effects.append(("create", spec.slot))
        return self.add(spec.deployment_id, spec.slot)

    def find(self, spec: DeploymentSpec) -> Handle | None:
        if self.on_find is not None:
            self.on_find()
        return self.live.get(spec.server_key)

    def find_all(self, spec: DeploymentSpec) -> list[Handle]:
        return [h for h in self.live.values() if h.deployment_id == spec.deployment_id]

    def refresh(self, handle: Handle) -> ResourceState:
        key = server_key(handle)
        exists = key in self.live
        return ResourceState(exists=exists, running=exists and self.serving,
                             endpoint_url=f"http://{self.address}/{key}/v1",
                             detail="still booting")

    def destroy(self, handle: Handle) -> None:
        self.effects.append(("destroy", handle.data["slot"]))
        self.live.pop(server_key(handle), None)

    def forget(self, deployment_id: str) -> None:
        self.effects.append(("forget", deployment_id))
