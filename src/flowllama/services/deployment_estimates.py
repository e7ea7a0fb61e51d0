"""The estimate a deployment is created with: the optimizer's ranked offers for a cloud, or the
sizing of a local process.

It runs before anything is queued, so a request the agent could never satisfy (unknown model,
context above the model's limit, no instance that holds it under the constraints) is a 422
naming the field, not a failed deployment later. The stored estimate is also the agent's list
of places to try, best first (``estimate["candidates"]``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flowllama.catalog.optimizer import EstimateRequest
from flowllama.catalog.prices import CLOUDS
from flowllama.catalog.sizing import estimate_memory
from flowllama.domain.deployments import DeploymentCreate
from flowllama.errors import InvalidInput, NotFound
from flowllama.services.catalog import CatalogService, result_json, sizing_json
from flowllama.settings import CloudsSettings

LocalCheck = Callable[[DeploymentCreate], None]
"""Refuses (``InvalidInput``) a local deployment this machine cannot serve now."""

ConfiguredClouds = Mapping[str, Sequence[str]]
"""The clouds deployments may use, each with its regions (empty: any region)."""


def configured_clouds(settings: CloudsSettings) -> dict[str, tuple[str, ...]]:
    """The enabled clouds of ``settings`` with their regions, for :class:`DeploymentEstimator`."""
    return {name: tuple(cloud.regions) for name, cloud in settings.configured().items()}


class DeploymentEstimator:
    """Callable the deployments service uses: ``estimator(body) -> estimate JSON``."""

    def __init__(self, catalog: CatalogService, local_check: LocalCheck | None = None,
                 clouds: ConfiguredClouds | None = None) -> None:
        """``clouds``: the configured clouds and regions; ``None`` allows every priced one."""
        self.catalog = catalog
        self.local_check = local_check
        self.clouds = clouds

    def __call__(self, body: DeploymentCreate) -> dict[str, Any]:
        """The estimate; its ``model`` (the catalog tag a bare name resolves to) and
        ``context_size`` (the model's default when the body has none) are what to record."""
        body = self._resolved(body)
        if body.cloud == "local":
            return self._local(body)
        return self._cloud(body)

    def _resolved(self, body: DeploymentCreate) -> DeploymentCreate:
        """``body`` with the catalog's name for the model and a context size set."""
        try:
            spec = self.catalog.models().get(body.model)
        except NotFound as exc:
            raise InvalidInput(exc.message, field="model", code="unknown_model") from None
        limit = spec.architecture.context_length
        if body.context_size is None:
            return body.model_copy(update={"model": spec.name,
                                           "context_size": spec.default_context_size})
        if limit and body.context_size > limit:
            raise InvalidInput(
                f"context_size {body.context_size} exceeds {body.model}'s maximum of {limit}",
                field="context_size", code="context_too_large")
        return body.model_copy(update={"model": spec.name})

    def _cloud(self, body: DeploymentCreate) -> dict[str, Any]:
        clouds, regions = self._allowed(body)
        request = EstimateRequest(
            model=body.model, context_size=body.context_size, parallel=body.parallel,
            spot_tolerance=body.spot_tolerance, gpu=body.gpu, clouds=clouds,
            regions=regions, instance_type=body.instance_type, allow_cpu=body.allow_cpu,
        )
        result = self.catalog.estimate(request)
        if result.recommended is None or not result.candidates:
            configured = "" if self.clouds is None else (
                f" (configured clouds: {_describe(self.clouds, clouds)})")
            raise InvalidInput(
                f"No instance satisfies these constraints{configured}: "
                f"{result.reason or 'none found'}", field=_culprit(body), code="no_feasible_offer")
        return result_json(result)

    def _allowed(self, body: DeploymentCreate) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
        """The clouds and regions to price: the request's, within the configured ones.

        A cloud or region outside the configuration is refused here, before anything is
        queued, rather than accepted and failed by the agent later.
        """
        wanted = CLOUDS if body.cloud == "auto" else (body.cloud,)
        if self.clouds is None:
            return wanted, (body.region,) if body.region else None
        clouds = tuple(cloud for cloud in wanted if cloud in self.clouds)
        if not clouds:
            what = "no cloud is" if body.cloud == "auto" else f"cloud {body.cloud!r} is not"
            raise InvalidInput(
                f"{what} configured for deployments on this FlowLlama (set "
                "FLOWLLAMA_CLOUDS__<CLOUD>__ENABLED and run 'flowllama cloud init')",
                field="cloud", code="cloud_not_configured")
        regions = {region for cloud in clouds for region in self.clouds[cloud]}
        any_region = any(not self.clouds[cloud] for cloud in clouds)
        if body.region:
            if not any_region and body.region not in regions:
                where = _describe(self.clouds, clouds)
                raise InvalidInput(f"region {body.region!r} is not configured for {where}",
                                   field="region", code="region_not_configured")
            return clouds, (body.region,)
        return clouds, None if any_region else tuple(sorted(regions))

    def _local(self, body: DeploymentCreate) -> dict[str, Any]:
        if body.region or body.instance_type:
            field = "region" if body.region else "instance_type"
            raise InvalidInput(f"{field} does not apply to cloud 'local'", field=field)
        if body.gpu not in ("auto", "none"):
            raise InvalidInput("cloud 'local' runs on this machine's CPU; use gpu 'auto' or "
                               "'none'", field="gpu", code="no_feasible_offer")
        assert body.context_size is not None  # set by _resolved
        sizing = estimate_memory(self.catalog.models().get(body.model),
                                 context_size=body.context_size, parallel=body.parallel)
        if self.local_check is not None:
            self.local_check(body)
        offer = {"cloud": "local", "region": "localhost", "zone": None,
                 "instance_type": "local-process", "spot": False, "price_per_hour": 0.0,
                 "gpu": None, "gpu_count": 0, "memory_bytes": sizing.min_ram_bytes}
        return {"model": body.model, "context_size": body.context_size,
                "parallel": body.parallel, "recommended": offer, "candidates": [offer],
                "requirements": sizing_json(sizing), "source": "local", "reason": None,
                "rationale": "runs as a process on the FlowLlama machine, at no cloud cost"}


def _describe(configured: ConfiguredClouds, clouds: Sequence[str]) -> str:
    return ", ".join(
        f"{cloud} in {'/'.join(configured[cloud]) or 'any region'}" for cloud in clouds)


def _culprit(body: DeploymentCreate) -> str:
    """The field most likely at fault when nothing fits: the narrowest pin the user set."""
    if body.instance_type:
        return "instance_type"
    if body.region:
        return "region"
    if body.gpu not in ("auto", "none"):
        return "gpu"
    return "model"
