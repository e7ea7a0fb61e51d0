"""The process-wide objects every role shares: settings, database, auth config, mailer.

Built once at start-up by :func:`build_platform` and handed to the API, agent and monitor, so
nothing reads the environment or opens a database at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from flowllama.db.session import Database, sqlite_file
from flowllama.loops import Backoff, LoopHealth
from flowllama.private_files import secure_data_dir
from flowllama.queue import JobQueue, build_queue
from flowllama.security.runtime_keys import RuntimeKeys
from flowllama.security.upstream_secrets import UpstreamSecrets
from flowllama.services.auth import AuthConfig
from flowllama.services.catalog import CatalogService
from flowllama.services.deployment_estimates import LocalCheck
from flowllama.services.mailer import Mailer, build_mailer
from flowllama.settings import Settings


@dataclass
class Platform:
    settings: Settings
    db: Database
    auth: AuthConfig
    mailer: Mailer
    catalog: CatalogService
    queue: JobQueue
    # Each deployment's runtime key, for every role that talks to runtimes (agent, monitor,
    # gateway); derived from the JWT secret that ``auth`` already resolved.
    runtime_keys: RuntimeKeys
    # Set by the composition root when this process runs local deployments (``flowllama up``).
    local_check: LocalCheck | None = None
    # Reads a local deployment's server log: ``(deployment_id, tail) -> lines``.
    local_logs: Callable[[str, int], list[str]] | None = None
    # Told the hash of every key revoked through this process, so a gateway in the same
    # process forgets it at once (other processes wait out their key cache's TTL).
    key_revoked_listeners: list[Callable[[str], None]] = field(default_factory=list)
    # The background loops of this process, which ``/ready`` and ``/metrics`` report on.
    loops: LoopHealth = field(default_factory=LoopHealth)

    @cached_property
    def upstream_secrets(self) -> UpstreamSecrets:
        """Seals and opens external servers' secrets (key derived from the JWT secret)."""
        return UpstreamSecrets(self.auth.jwt_secret)

    def close(self) -> None:
        self.db.dispose()


def make_data_private(settings: Settings) -> None:
    """The data dir 0700 and a SQLite database there (or wherever the URL says) 0600."""
    secure_data_dir(settings.data_dir, sqlite_file(settings.effective_database_url))


def build_platform(settings: Settings, *, db: Database | None = None) -> Platform:
    """Resolve secrets (refusing weak ones in production), open the database and the queue."""
    make_data_private(settings)
    auth = AuthConfig.from_settings(settings)
    database = db or Database(settings.effective_database_url)
    return Platform(
        settings=settings,
        db=database,
        auth=auth,
        mailer=build_mailer(settings),
        catalog=CatalogService(settings.data_dir, settings.effective_models_dir),
        queue=build_queue(settings.queue, database),
        runtime_keys=RuntimeKeys(auth.jwt_secret),
        loops=LoopHealth(Backoff(settings.loops.backoff_base_s, settings.loops.backoff_max_s),
                         settings.loops.stale_after_s),
    )
