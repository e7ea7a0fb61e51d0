"""A test provisioner for cloud offers, and what it is: every server it "places" on an AWS or
GCP offer is a real llama.cpp runtime on this machine (the local provisioner underneath, under
its own root), while its handle and state report the cloud placement the agent chose. So the
agent, monitor and gateway run for real (moves, heals, blue/green, traffic), and only the
cloud is pretended. It never claims to reach a cloud: its kind is ``cloudsim``.

A spot reclaim is simulated the way a cloud does it, behind the agent's back:
:func:`reclaim` (from any process) marks the server as taken back and stops its runtime;
from then on :meth:`LocalAsCloud.refresh` says ``exists=False, reclaimed=True`` for it.
Not a test module.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, ClassVar

from flowllama.providers.base import (
    Capabilities,
    Capability,
    DeploymentSpec,
    Handle,
    Placement,
    Provisioner,
    ResourceState,
)
from flowllama.providers.local import LOCAL_PLACEMENT, LocalProvisioner

KIND = "cloudsim"
CLOUDS = frozenset({"aws", "gcp"})


class LocalAsCloud(Provisioner):
    """Places cloud offers as local runtimes of ``local`` (a :class:`LocalProvisioner` whose
    root is this provisioner's own); keeps which placement each server was given in
    ``<root>/placements/<server key>.json`` and reclaim marks in ``<root>/reclaimed/``."""

    kind: ClassVar[str] = KIND

    def __init__(self, local: LocalProvisioner) -> None:
        self.local = local
        self.root = local.root

    @property
    def capabilities(self) -> Capabilities:
        """What the clouds it stands in for declare (GPU offers run on this CPU)."""
        return Capabilities(clouds=CLOUDS, features=frozenset(
            {Capability.GPU, Capability.SPOT, Capability.ADOPT}))

    def create(self, spec: DeploymentSpec, placement: Placement) -> Handle:
        """A local runtime for ``spec``'s server, reported at ``placement``."""
        self.check_capabilities(spec, placement)
        key = spec.server_key
        _mark(self.root, "reclaimed", key).unlink(missing_ok=True)
        _mark(self.root, "placements", key).write_text(json.dumps(placement.to_dict()))
        inner = self.local.create(_as_local(spec), LOCAL_PLACEMENT)
        return self._wrap(inner, spec, placement)

    def find(self, spec: DeploymentSpec) -> Handle | None:
        inner = self.local.find(_as_local(spec))
        placement = _placement(self.root, spec.server_key)
        return None if inner is None or placement is None else self._wrap(inner, spec, placement)

    def find_all(self, spec: DeploymentSpec) -> list[Handle]:
        """Every server of the deployment in any slot (the slot-aware contract)."""
        finder = getattr(self.local, "find_all", None)
        if finder is None:  # a local provisioner from before slots: one server
            found = self.find(spec)
            return [] if found is None else [found]
        handles = []
        for inner in finder(_as_local(spec)):  # strays too: teardown destroys them
            own = dataclasses.replace(spec, slot=str(inner.data.get("slot") or ""))
            handles.append(self._wrap(inner, own, _placement(self.root, own.server_key)))
        return handles

    def refresh(self, handle: Handle) -> ResourceState:
        """The runtime's state, unless the "cloud" took the server back."""
        key = str(handle.data["server_key"])
        if _mark(self.root, "reclaimed", key).exists():
            return ResourceState(exists=False, reclaimed=True,
                                 detail=f"spot capacity reclaimed by {handle.data['cloud']}")
        return self.local.refresh(Handle.from_dict(handle.data["inner"]))

    def destroy(self, handle: Handle) -> None:
        self.local.destroy(Handle.from_dict(handle.data["inner"]))
        key = str(handle.data["server_key"])
        _mark(self.root, "placements", key).unlink(missing_ok=True)

    def forget(self, deployment_id: str) -> None:
        self.local.forget(deployment_id)

    def _wrap(self, inner: Handle, spec: DeploymentSpec, placement: Placement | None
              ) -> Handle:
        return Handle(kind=KIND, deployment_id=spec.deployment_id, name=inner.name, data={
            "inner": inner.to_dict(), "slot": spec.slot, "server_key": spec.server_key,
            "cloud": placement.cloud if placement else spec.cloud,
            "placement": placement.to_dict() if placement else None,
            "endpoint_url": inner.data.get("endpoint_url")})


def reclaim(root: Path, local: LocalProvisioner, handle: dict[str, Any]) -> None:
    """What a cloud does to a spot server, from outside the agent: mark it taken back, then
    stop its runtime (``handle``: an ``instances.handle`` of a ``cloudsim`` server)."""
    _mark(root, "reclaimed", str(handle["data"]["server_key"])).touch()
    local.destroy(Handle.from_dict(handle["data"]["inner"]))


def _as_local(spec: DeploymentSpec) -> DeploymentSpec:
    """The spec the local runtime serves: this machine, its CPU, the same server key."""
    return dataclasses.replace(spec, cloud="local", region=None, instance_type=None,
                               spot=False, gpu="auto")


def _mark(root: Path, kind: str, key: str) -> Path:
    folder = root / kind
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{key}.json"


def _placement(root: Path, key: str) -> Placement | None:
    path = _mark(root, "placements", key)
    return Placement.from_dict(json.loads(path.read_text())) if path.is_file() else None
