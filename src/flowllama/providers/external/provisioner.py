"""The ``external`` provisioner: a deployment whose server FlowLlama does not run.

An administrator registered the server (``services/external_servers.py``); this provisioner
gives the agent the usual contract over it, so the lifecycle stays one state machine:

* :meth:`ExternalProvisioner.create` *adopts* the registered endpoint: no side effect, the
  handle records where it is (never its secret);
* :meth:`ExternalProvisioner.refresh` checks the server answers its health path (with its
  secret), which is what moves ``starting`` to ``running``;
* :meth:`ExternalProvisioner.destroy` does nothing: stop and delete change FlowLlama's records
  only, the server keeps running; :meth:`ExternalProvisioner.forget` wipes the stored secret
  once the deployment is deleted.

A heal therefore re-adopts the same server and waits for it to answer again. There is only
one server, so there is only one slot: a handle asked for in another slot (a replacement) is
the same server's (no ``slot`` in its data, i.e. ""); the deployment's ``replicas_max`` must stay 1.
"""

from __future__ import annotations

from typing import Protocol

import httpx

from flowllama.domain.external import EXTERNAL_CLOUD, ExternalTarget, endpoints_of, handle_data
from flowllama.logging import get_logger
from flowllama.providers.base import (
    Capabilities,
    Capability,
    DeploymentSpec,
    Handle,
    Placement,
    Provisioner,
    ResourceState,
    Unsupported,
)
from flowllama.providers.naming import resource_name

log = get_logger(__name__)

EXTERNAL_PLACEMENT_KIND = "external"
HEALTH_TIMEOUT_S = 5.0


class Registrations(Protocol):
    """Where registrations are read (the database, through the agent's composition root)."""

    def lookup(self, deployment_id: str) -> ExternalTarget | None:
        """The registered server of ``deployment_id``, or None."""

    def forget(self, deployment_id: str) -> None:
        """Wipe what is kept for a deployment that is now deleted (its secret)."""


class ExternalProvisioner(Provisioner):
    """Adopts registered servers; creates and destroys nothing."""

    kind = EXTERNAL_PLACEMENT_KIND

    def __init__(self, registrations: Registrations,
                 health_timeout_s: float = HEALTH_TIMEOUT_S) -> None:
        self.registrations = registrations
        self.health_timeout_s = health_timeout_s

    @property
    def capabilities(self) -> Capabilities:
        # GPU: the server may have one (FlowLlama attaches none, so no placement asks).
        return Capabilities(clouds=frozenset({EXTERNAL_CLOUD}),
                            features=frozenset({Capability.STOP_START, Capability.ADOPT}))

    def create(self, spec: DeploymentSpec, placement: Placement) -> Handle:
        self.check_capabilities(spec, placement)
        handle = self.find(spec)
        if handle is None:
            raise Unsupported(f"no external server is registered for deployment {spec.name!r}")
        return handle

    def find(self, spec: DeploymentSpec) -> Handle | None:
        target = self.registrations.lookup(spec.deployment_id)
        if target is None:
            return None
        return Handle(self.kind, spec.deployment_id, resource_name(spec.deployment_id),
                      handle_data(target.api, target.base_url))

    def find_all(self, spec: DeploymentSpec) -> list[Handle]:
        """The one registered server, whatever slot is asked for."""
        handle = self.find(spec)
        return [] if handle is None else [handle]

    def refresh(self, handle: Handle) -> ResourceState:
        target = self.registrations.lookup(handle.deployment_id)
        if target is None:
            return ResourceState(exists=False, detail="the registration is gone")
        endpoints = endpoints_of(target.api, target.base_url)
        url = endpoints.server_url + endpoints.health_path
        try:
            with httpx.Client(timeout=self.health_timeout_s, trust_env=False) as client:
                response = client.get(url, headers=target.headers)
        except httpx.HTTPError as exc:
            return ResourceState(exists=True, running=False, endpoint_url=endpoints.openai_base,
                                 detail=f"{url}: {type(exc).__name__}: {exc}")
        running = response.is_success
        detail = "" if running else f"{url} answered HTTP {response.status_code}"
        return ResourceState(exists=True, running=running, endpoint_url=endpoints.openai_base,
                             detail=detail)

    def destroy(self, handle: Handle) -> None:
        """Nothing to remove: the server is not FlowLlama's. Idempotent by construction."""
        log.info("external.release", deployment_id=handle.deployment_id)

    def forget(self, deployment_id: str) -> None:
        self.registrations.forget(deployment_id)
