"""The benchmark's data dir: a migrated SQLite database with one user and one API key, and the
fake upstream registered as that user's external OpenAI-compatible server, adopted as an
administrator's setup would be."""

from __future__ import annotations

from pathlib import Path


def seed(data_dir: Path, upstream_v1: str) -> str:
    """Migrate the data dir's SQLite database; add a user and a key, and register the fake
    upstream as that user's external OpenAI-compatible server (``cloud: external``, through the
    service behind ``POST /api/admin/external-deployments`` and ``flowllama external
    register``); the agent's reconciler then adopts it, as ``flowllama up``'s agent would."""
    from flowllama.agent.reconciler import Reconciler
    from flowllama.db import migrate
    from flowllama.db.tables import Deployment, User
    from flowllama.domain.external import ExternalDeploymentRegister
    from flowllama.domain.keys import ApiKeyCreate
    from flowllama.platform import build_platform
    from flowllama.providers.external import ExternalProvisioner
    from flowllama.providers.registry import ProvisionerRegistry
    from flowllama.services import api_keys, external_servers
    from flowllama.services.external_servers import ExternalDirectory
    from flowllama.settings import Settings

    # The gateway's settings (``paths.start_gateway``): the same data dir, so the same
    # platform secret.
    settings = Settings(env="development", data_dir=data_dir)
    migrate.upgrade(settings.effective_database_url)
    platform = build_platform(settings)
    try:
        with platform.db.session() as session:
            user = User(email="bench@example.com", password_hash="x")
            session.add(user)
            session.flush()
            _row, key = api_keys.create(session, user, ApiKeyCreate(name="bench"))
            registered = external_servers.register(
                session, platform.upstream_secrets, ExternalDeploymentRegister(
                    name="bot", owner_email=user.email, base_url=upstream_v1, api="openai",
                    model="bench", context_size=512))
        registry = ProvisionerRegistry()
        registry.register("external", lambda: ExternalProvisioner(
            ExternalDirectory(platform.db, platform.upstream_secrets)))
        Reconciler(platform.db, registry).reconcile(registered.deployment.id)
        with platform.db.session() as session:
            deployment = session.get(Deployment, registered.deployment.id)
            assert deployment is not None
            if deployment.status != "running":
                raise SystemExit(f"the fake upstream was not adopted: {deployment.status} "
                                 f"({deployment.status_message})")
    finally:
        platform.close()
    return key
