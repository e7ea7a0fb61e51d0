"""Wiring the agent from settings: which provisioners exist here and how they are configured.

* ``local`` always: runtimes under ``<data dir>/local``, serving ``<models dir>``.
* ``terraform`` when a Terraform engine is installed (the ``terraform`` extra or ``terraform``
  on PATH), with workspaces under ``<data dir>/terraform`` and the cloud stacks that ship with
  FlowLlama. Without an engine a cloud deployment fails with the install hint.
"""

from __future__ import annotations

from sqlalchemy import select

from flowllama.agent.leases import HeldLeases
from flowllama.agent.progress import ProgressRecorder
from flowllama.agent.service import AgentService
from flowllama.db.tables import Deployment
from flowllama.domain.deployments import DeploymentCreate
from flowllama.domain.lifecycle import Desired
from flowllama.errors import ConfigError, InvalidInput
from flowllama.logging import get_logger
from flowllama.metrics.jobs import CountingQueue
from flowllama.platform import Platform
from flowllama.providers.base import DeploymentSpec
from flowllama.providers.local import LocalOptions, LocalProvisioner
from flowllama.providers.registry import ProvisionerRegistry
from flowllama.services.deployment_estimates import LocalCheck
from flowllama.services.retention import RetentionPurger
from flowllama.webhooks.dispatcher import WebhookDispatcher
from flowllama.webhooks.secrets import SecretBox

log = get_logger(__name__)


def local_provisioner(platform: Platform) -> LocalProvisioner:
    """The local provisioner for this platform's data and models directories."""
    settings = platform.settings
    return LocalProvisioner(
        settings.data_dir / "local", settings.effective_models_dir,
        LocalOptions(health_timeout_s=settings.agent.local_health_timeout_s,
                     runtime_keys=platform.runtime_keys),
        catalog=platform.catalog.models(),
    )


def build_registry(platform: Platform, local: LocalProvisioner) -> ProvisionerRegistry:
    """Every provisioner this machine can run."""
    registry = ProvisionerRegistry()
    registry.register("local", lambda: local)
    try:
        from flowllama.providers.terraform import (
            BackendConfig,
            TerraformProvisioner,
            default_engine,
        )

        engine = default_engine()
    except ConfigError as exc:
        log.info("agent.no_terraform", reason=str(exc))
        return registry
    root = platform.settings.data_dir / "terraform"
    state = platform.settings.terraform
    backend = BackendConfig(state.backend, state.backend_config, state.state_prefix)
    registry.register("terraform", lambda: TerraformProvisioner(root, [], engine=engine,
                                                                backend=backend))
    return registry


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
        loops=platform.loops,
    )


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
                              model=body.model, context_size=body.context_size,
                              parallel=body.parallel, runtime=body.runtime, cloud="local",
                              gpu="none")
        verdict = local.check_capacity(spec)
        if not verdict.fits:
            raise InvalidInput(verdict.message(), field="context_size",
                               code="insufficient_memory")

    return check
