"""The provisioner contract: what every way of running a deployment's server must do.

A provisioner turns a :class:`DeploymentSpec` and a chosen :class:`Placement` into a running
server and back into nothing. The agent is level-triggered and may crash or receive a job twice,
so every method here is safe to repeat:

* resources are named ``fl-<server_key>`` (:attr:`DeploymentSpec.server_key`: the deployment id,
  or ``<deployment_id>-<slot>`` for its other servers) and tagged with the deployment id
  (:mod:`flowllama.providers.naming`), so :meth:`Provisioner.find` can adopt them after a restart
  and :meth:`Provisioner.find_all` lists every slot's;
* :meth:`Provisioner.create` called again for the same deployment returns the existing resources
  instead of creating a second set;
* :meth:`Provisioner.destroy` of something already gone succeeds, and raises
  :class:`~flowllama.errors.NotYetTerminated` while anything is still there.

Errors are the house's ``ProviderError`` family: ``NoCapacity`` (try the next offer; also
``NoFoundation``: the offer's region was never set up),
``ProvisioningFailed`` (this offer failed; nothing is left behind unless the message says so),
``NotYetTerminated`` (destroy must be retried) and :class:`Unsupported` (the request can never
work on this provisioner; do not retry).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any, ClassVar

from flowllama.errors import ProvisioningFailed

# GPU preferences that do not name a GPU model (anything else does and so needs a GPU).
GPU_ANY = frozenset({"auto", "any"})
GPU_NONE = frozenset({"none", "cpu"})


class Capability(StrEnum):
    """Something a provisioner can do, declared up front and checked before any side effect."""

    GPU = "gpu"
    SPOT = "spot"
    STOP_START = "stop_start"
    ADOPT = "adopt"


@dataclass(frozen=True)
class Capabilities:
    """What a provisioner declares: the clouds it places on and the features it supports."""

    clouds: frozenset[str]
    features: frozenset[Capability]

    def supports(self, capability: Capability) -> bool:
        """Whether ``capability`` is declared."""
        return capability in self.features


class Unsupported(ProvisioningFailed):
    """The request can never succeed on this provisioner (missing capability, unknown stack)."""

    retryable = False


@dataclass(frozen=True, kw_only=True)
class DeploymentSpec:
    """What the user asked for, as the agent hands it to a provisioner.

    ``cloud``/``region``/``instance_type`` are the user's pins (``"auto"``/``None`` when free);
    ``spot`` says whether spot capacity is acceptable; ``gpu`` is ``"auto"``, ``"none"`` or a GPU
    model. ``extra`` carries provisioner-specific values; a provisioner uses only the keys it
    declares and never lets them override names or tags.

    ``slot`` tells apart the servers one deployment runs side by side (replicas, and a blue/green
    replacement next to the server it replaces): ``""`` is the deployment's first server. A
    provisioner keys everything it creates, names and finds on :attr:`server_key`, and tags it
    with ``deployment_id``.

    ``root_disk_gib`` is the root disk the deployment's estimate priced for its model
    (``flowllama.catalog.disk``); a provisioner that sizes disks gives the server exactly this,
    and keeps its own default when it is ``None``.
    """

    deployment_id: str
    user_id: str
    name: str
    model: str
    context_size: int
    parallel: int = 1
    runtime: str = "auto"
    cloud: str = "auto"
    region: str | None = None
    instance_type: str | None = None
    spot: bool = False
    gpu: str = "auto"
    extra: Mapping[str, Any] = field(default_factory=dict)
    slot: str = ""
    root_disk_gib: int | None = None

    @property
    def server_key(self) -> str:
        """``deployment_id``, or ``<deployment_id>-<slot>`` for a server in another slot."""
        return f"{self.deployment_id}-{self.slot}" if self.slot else self.deployment_id


@dataclass(frozen=True, kw_only=True)
class Placement:
    """One concrete place to run a deployment; the agent converts optimizer offers into these."""

    cloud: str
    region: str
    zone: str | None = None
    instance_type: str
    spot: bool = False
    price_per_hour: float | None = None
    gpu: str | None = None
    gpu_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy (stored in handles)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Placement:
        """The inverse of :meth:`to_dict`."""
        return cls(**dict(data))


@dataclass(frozen=True)
class Handle:
    """What the agent stores (``instances.handle``) to find a deployment's resources again.

    ``kind`` is the provisioner kind, ``name`` the resource name derived from the server key,
    ``data`` provisioner-private and JSON-serialisable (checked on construction), except
    ``data["slot"]``: the slot the server is in (absent in handles from before slots: "").
    """

    kind: str
    deployment_id: str
    name: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            json.dumps(self.data, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"handle data must be JSON-serialisable: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        """The JSON object stored in the database."""
        return {
            "kind": self.kind,
            "deployment_id": self.deployment_id,
            "name": self.name,
            "data": json.loads(json.dumps(self.data)),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Handle:
        """The inverse of :meth:`to_dict`."""
        return cls(
            kind=str(data["kind"]),
            deployment_id=str(data["deployment_id"]),
            name=str(data["name"]),
            data=dict(data.get("data") or {}),
        )


@dataclass(frozen=True)
class ResourceState:
    """What is true about a handle's resources right now (never what was asked)."""

    exists: bool
    running: bool = False
    endpoint_url: str | None = None
    instance_id: str | None = None
    public_ip: str | None = None
    detail: str = ""
    # The cloud took this spot/preemptible server back (an interruption notice, or the instance
    # terminated by the cloud rather than crashed): the agent replaces it on another offer.
    reclaimed: bool = False


class Provisioner(ABC):
    """Creates, observes and destroys the resources that run one deployment's server.

    Contract for implementers (``docs/adding-a-provider.md`` has the checklist):

    * :meth:`check_capabilities` runs before any side effect and raises :class:`Unsupported`.
    * Every method is idempotent and safe after a crash at any point.
    * Nothing is created outside names/tags derived from the deployment id.
    * No method holds a database transaction; the agent calls them outside one.
    """

    kind: ClassVar[str]

    @property
    @abstractmethod
    def capabilities(self) -> Capabilities:
        """The clouds and features this provisioner supports."""

    def check_capabilities(self, spec: DeploymentSpec, placement: Placement) -> None:
        """Raise :class:`Unsupported` unless ``placement`` can serve ``spec`` here.

        Called by :meth:`create` before any side effect; the agent may call it to filter offers.
        """
        check_placement(self.kind, self.capabilities, spec, placement)

    @abstractmethod
    def create(self, spec: DeploymentSpec, placement: Placement) -> Handle:
        """Create (or adopt, if they already exist) the resources for ``spec`` on ``placement``.

        Raises ``NoCapacity`` or ``ProvisioningFailed``; after either, nothing is left behind
        unless the message says clean-up failed (then :meth:`find` + :meth:`destroy` remove it).
        """

    @abstractmethod
    def find(self, spec: DeploymentSpec) -> Handle | None:
        """The handle of resources that already exist for ``spec``'s deployment, or ``None``."""

    def find_all(self, spec: DeploymentSpec) -> list[Handle]:
        """The handles of every server of ``spec``'s deployment, in any slot (``spec.slot`` is
        ignored): what teardown destroys, so a server left in a slot no instance row records
        is still found. The default asks :meth:`find` for the first slot only, which is right
        for a provisioner with one server per deployment; one that keys servers on
        :attr:`DeploymentSpec.server_key` overrides it."""
        handle = self.find(replace(spec, slot=""))
        return [] if handle is None else [handle]

    @abstractmethod
    def refresh(self, handle: Handle) -> ResourceState:
        """Observe the resources behind ``handle``; a missing resource is ``exists=False``."""

    @abstractmethod
    def destroy(self, handle: Handle) -> None:
        """Remove everything behind ``handle``. Idempotent.

        Returns only once removal is confirmed; raises ``NotYetTerminated`` while anything is left.
        """

    def forget(self, deployment_id: str) -> None:  # noqa: B027 - optional hook, no-op default
        """Remove what :meth:`destroy` deliberately keeps (e.g. logs) once the deployment itself
        is deleted. Idempotent; the default keeps nothing, so does nothing."""


def check_placement(
    kind: str, caps: Capabilities, spec: DeploymentSpec, placement: Placement
) -> None:
    """The capability rules shared by every provisioner; raises :class:`Unsupported`."""
    if placement.cloud not in caps.clouds:
        raise Unsupported(f"{kind} cannot place on cloud {placement.cloud!r}")
    if placement.spot and not caps.supports(Capability.SPOT):
        raise Unsupported(f"{kind} does not support spot capacity on {placement.cloud!r}")
    if placement.spot and not spec.spot:
        raise Unsupported("spot placement offered but the deployment does not accept spot")
    if placement.gpu_count > 0 and not caps.supports(Capability.GPU):
        raise Unsupported(f"{kind} cannot attach GPUs on {placement.cloud!r}")
    wants_gpu = spec.gpu not in GPU_ANY and spec.gpu not in GPU_NONE
    if wants_gpu and placement.gpu_count == 0:
        raise Unsupported(f"deployment needs GPU {spec.gpu!r} but the placement has none")
    if spec.gpu in GPU_NONE and placement.gpu_count > 0:
        raise Unsupported("deployment asked for no GPU but the placement has one")
