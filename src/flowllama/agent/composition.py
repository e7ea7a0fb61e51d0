"""Wiring the agent from settings: which provisioners exist here and how they are configured.

* ``local`` always: runtimes under ``<data dir>/local``, serving ``<models dir>``.
* ``external`` always: adopts servers an administrator registered (``cloud: external``).
* ``terraform`` when a Terraform engine is installed (the ``terraform`` extra or ``terraform``
  on PATH), with workspaces under ``<data dir>/terraform`` and the ``aws-ollama`` and
  ``gcp-ollama`` stacks that ship with FlowLlama, fed by each region's foundation
  (``flowllama cloud init``). Without an engine a cloud deployment fails with the install hint.
  Its refresh asks EC2 whether an ``aws`` spot server was reclaimed (see
  :mod:`flowllama.providers.terraform.interruptions`), through the same endpoint the aws
  provider is configured with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import select

from flowllama.agent.leases import HeldLeases
from flowllama.agent.progress import ProgressRecorder
from flowllama.agent.reconciler import DrainPolicy
from flowllama.agent.service import AgentService
from flowllama.db.tables import Deployment
from flowllama.domain.deployments import DeploymentCreate
from flowllama.domain.lifecycle import Desired
from flowllama.errors import ConfigError, InvalidInput
from flowllama.logging import get_logger
from flowllama.metrics.jobs import CountingQueue
from flowllama.platform import Platform
from flowllama.providers.base import DeploymentSpec
from flowllama.providers.external import ExternalProvisioner
from flowllama.providers.local import LocalOptions, LocalProvisioner
from flowllama.providers.registry import ProvisionerRegistry
from flowllama.services.deployment_estimates import LocalCheck
from flowllama.services.external_servers import ExternalDirectory
from flowllama.services.retention import RetentionPurger
from flowllama.settings import Settings
from flowllama.webhooks.dispatcher import WebhookDispatcher
from flowllama.webhooks.secrets import SecretBox

if TYPE_CHECKING:  # the Terraform package is imported only when an engine is installed
    from flowllama.providers.terraform import BackendConfig, Engine, TerraformProvisioner
    from flowllama.providers.terraform.foundation import Foundations

log = get_logger(__name__)


def local_provisioner(platform: Platform) -> LocalProvisioner:
    """The local provisioner for this platform's data and models directories."""
    settings = platform.settings
    return LocalProvisioner(
        settings.data_dir / "local", settings.effective_models_dir,
        LocalOptions(health_timeout_s=settings.agent.local_health_timeout_s,
                     runtime_keys=platform.runtime_keys,
                     allow_unisolated=settings.agent.local_allow_unisolated_ollama),
        catalog=platform.catalog.models(),
    )


def build_registry(platform: Platform, local: LocalProvisioner) -> ProvisionerRegistry:
    """Every provisioner this machine can run."""
    registry = ProvisionerRegistry()
    registry.register("local", lambda: local)
    registry.register("external", lambda: ExternalProvisioner(
        ExternalDirectory(platform.db, platform.upstream_secrets)))
    try:
        from flowllama.providers.terraform import default_engine

        engine = default_engine()
    except ConfigError as exc:
        log.info("agent.no_terraform", reason=str(exc))
        return registry
    registry.register("terraform", lambda: terraform_provisioner(platform.settings, engine))
    return registry


def terraform_provisioner(settings: Settings, engine: Engine) -> TerraformProvisioner:
    """The Terraform provisioner with the AWS and GCP ollama stacks, reading each region's
    foundation outputs from the foundation workspaces ``flowllama cloud init`` applied, and
    asking EC2 whether an aws spot server it refreshes was reclaimed (other servers: never)."""
    from flowllama.providers.terraform import TerraformProvisioner
    from flowllama.providers.terraform.cloud_stacks import aws_ollama_stack, gcp_ollama_stack
    from flowllama.providers.terraform.interruptions import AwsSpotInterruptions

    state = settings.terraform
    return TerraformProvisioner(
        settings.data_dir / "terraform", [aws_ollama_stack(), gcp_ollama_stack()],
        engine=engine, backend=terraform_backend(settings),
        provider_settings=state.provider_settings, cloud_values=cloud_values(settings),
        foundations=foundations(settings, engine),
        interruptions=AwsSpotInterruptions(state.provider_settings.get("aws")),
    )


def foundations(settings: Settings, engine: Engine, *, environment: str | None = None,
                on_command: Callable[[str, str], None] | None = None) -> Foundations:
    """The foundation stacks of AWS and GCP on this installation's state backend
    (``environment`` overrides the configured one, for ``flowllama cloud init``)."""
    from flowllama.providers.terraform.cloud_stacks import (
        aws_foundation_stack,
        gcp_foundation_stack,
    )
    from flowllama.providers.terraform.foundation import Foundations

    values = cloud_values(settings)
    if environment is not None:
        values = {cloud: {**items, "environment": environment} for cloud, items in values.items()}
    return Foundations(
        settings.data_dir / "terraform", [aws_foundation_stack(), gcp_foundation_stack()],
        engine=engine, backend=terraform_backend(settings), cloud_values=values,
        provider_settings=settings.terraform.provider_settings, on_command=on_command,
    )


def terraform_backend(settings: Settings) -> BackendConfig:
    """Where every Terraform state of this installation lives (local by default)."""
    from flowllama.providers.terraform import BackendConfig

    state = settings.terraform
    return BackendConfig(state.backend, state.backend_config, state.state_prefix)


def cloud_values(settings: Settings) -> dict[str, dict[str, str]]:
    """The operator's fixed stack values per cloud: environment, GCP project, pinned image,
    and the Ollama release (version and checksum) the boot script installs."""
    clouds = settings.clouds
    values: dict[str, dict[str, str]] = {}
    for name in ("aws", "gcp"):
        cloud = getattr(clouds, name)
        values[name] = {"environment": cloud.environment, "ollama_version": clouds.ollama_version}
        optional = {"project": cloud.project, "image_id": cloud.image_id,
                    "ollama_sha256": clouds.ollama_sha256}
        values[name].update({key: value for key, value in optional.items() if value})
    return values


def live_local_deployments(platform: Platform) -> set[str]:
    """Ids of local deployments that should be running."""
    with platform.db.session() as session:
        return set(session.scalars(select(Deployment.id).where(
            Deployment.cloud == "local", Deployment.desired_state == Desired.RUNNING,
            Deployment.deleted_at.is_(None))).all())


def build_agent(platform: Platform, local: LocalProvisioner, *, workers: int | None = None
                ) -> AgentService:
    """The agent for ``platform``: re-adopts local runtimes on start, stops them on exit and
    those no live deployment owns at every sweep, records model downloads under the steps'
    leases, and runs the webhook dispatcher and the retention purge alongside its workers."""
    settings = platform.settings.agent
    dispatcher = WebhookDispatcher(platform.db, platform.settings.webhooks,
                                   box=SecretBox.from_settings(platform.settings),
                                   loops=platform.loops)
    purger = RetentionPurger(platform.db, platform.settings.retention, platform.loops)
    held = HeldLeases()
    local.on_progress = ProgressRecorder(platform.db, held)

    def resume() -> None:
        relaunched = local.recover(live_local_deployments(platform))
        if relaunched:
            log.info("agent.local_relaunched", deployments=relaunched)
        dispatcher.start()
        purger.start()

    def shutdown() -> None:
        purger.stop()
        dispatcher.stop()
        local.shutdown()

    def sweep_orphans() -> None:
        stopped = local.stop_orphans(lambda: live_local_deployments(platform))
        if stopped:
            log.info("agent.local_orphans_stopped", deployments=stopped)

    return AgentService(
        platform.db, CountingQueue(platform.queue), build_registry(platform, local),
        workers=workers or settings.workers, lease_s=settings.lease_s, poll_s=settings.poll_s,
        sweep_interval_s=settings.sweep_interval_s,
        max_heals=platform.settings.monitor.max_heal_attempts,
        on_start=resume, on_stop=shutdown, on_sweep=sweep_orphans, held=held,
        loops=platform.loops, drain=drain_policy(platform.settings),
    )


def drain_policy(settings: Settings) -> DrainPolicy:
    """When a replaced server may go: the autopilot's drain timeout, the gateways' route cache
    lifetime and how often they report their load."""
    autopilot = settings.autopilot
    return DrainPolicy(timeout_s=autopilot.drain_timeout_s,
                       route_ttl_s=settings.gateway.route_cache_ttl_s,
                       report_interval_s=autopilot.load_report_interval_s)


def attach_local(platform: Platform) -> LocalProvisioner:
    """The local provisioner, with the API's capacity pre-check and log reader wired to it."""
    local = local_provisioner(platform)
    platform.local_check = local_capacity_check(local)
    platform.local_logs = local.logs
    return local


def local_capacity_check(local: LocalProvisioner) -> LocalCheck:
    """The API's pre-check for ``cloud: local``: the provisioner's own capacity verdict, so a
    deployment this machine cannot hold is refused with the numbers before it is queued."""

    def check(body: DeploymentCreate) -> None:
        spec = DeploymentSpec(deployment_id="capacity-check", user_id="", name=body.name,
                              model=body.model,
                              # the estimator resolved a missing context before this check
                              context_size=body.context_size or 0,
                              parallel=body.parallel, runtime=body.runtime, cloud="local",
                              gpu="none")
        verdict = local.check_capacity(spec)
        if not verdict.fits:
            raise InvalidInput(verdict.message(), field="context_size",
                               code="insufficient_memory")

    return check
