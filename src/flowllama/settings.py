"""One settings tree for every role.

Environment variables use the ``FLOWLLAMA_`` prefix and ``__`` for nesting
(``FLOWLLAMA_AUTH__ACCESS_TOKEN_TTL_S=600``). Build it with :func:`get_settings`, never at import
time, so tests and the CLI can change the environment first. ``docs/configuration.md`` lists
every field with its default; keep the two in step.
"""

from __future__ import annotations

import math
import os
import secrets
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from flowllama.cloud_settings import CloudSettings, CloudsSettings, TerraformSettings
from flowllama.errors import ConfigError
from flowllama.loadtest.platform_settings import LoadtestSettings
from flowllama.queue.config import QueueSettings

__all__ = [
    "AgentSettings", "AuthSettings", "AutopilotSettings", "CloudSettings", "CloudsSettings",
    "GatewaySettings", "HttpSettings", "LoopSettings", "MailSettings", "MonitorSettings",
    "QuotaSettings", "RequestLimit", "RetentionSettings", "Settings", "TerraformSettings",
    "TierQuota", "WebhookSettings", "get_settings",
]

MIN_JWT_SECRET_LENGTH = 32
# Estimated from character frequencies (see ``_entropy_bits``): 32 random hex characters
# score 95-120, ``secrets.token_urlsafe(32)`` about 200, ``"a" * 64`` zero.
MIN_JWT_SECRET_BITS = 80
PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "change_me", "secret", "jwt-secret", "placeholder", "example",
     "replace-me", "replaceme", "xxx", "todo", "development", "insecure"}
)


class RequestLimit(BaseModel):
    """At most ``max`` requests per subject (client address, email) per ``window_s``."""

    max: int = Field(ge=1)
    window_s: int = Field(ge=1)


class AuthSettings(BaseModel):
    """Tokens, passwords and the throttles on the unauthenticated account endpoints.

    ``login_max_failures`` counts per (email, client address); one client address may fail
    four times as often, over all emails. The other limits count per client address
    (``reset_per_email`` per email as well).
    """

    jwt_secret: SecretStr | None = None
    jwt_issuer: str = Field("flowllama", min_length=1)
    jwt_audience: str = Field("flowllama-api", min_length=1)
    access_token_ttl_s: int = Field(900, ge=30)
    refresh_token_ttl_s: int = Field(30 * 24 * 3600, ge=60)
    reset_token_ttl_s: int = Field(3600, ge=60)
    login_max_failures: int = Field(5, ge=1)
    login_window_s: int = Field(300, ge=1)
    register_limit: RequestLimit = RequestLimit(max=20, window_s=3600)
    reset_limit: RequestLimit = RequestLimit(max=20, window_s=3600)
    reset_per_email: RequestLimit = RequestLimit(max=5, window_s=3600)
    refresh_limit: RequestLimit = RequestLimit(max=120, window_s=60)


class MailSettings(BaseModel):
    """Outgoing mail. Requests queue it in the database; the ``api`` role's outbox worker
    sends it every ``outbox_poll_s``. Without ``smtp_host`` mail goes to
    ``<data_dir>/outbox/``."""

    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    from_address: str = "FlowLlama <no-reply@flowllama.local>"
    outbox_poll_s: float = Field(2.0, gt=0, le=300)


class HttpSettings(BaseModel):
    """The HTTP edge of every role: forwarded headers, body and time limits, what is public.

    ``trusted_proxies`` (IP addresses or CIDR ranges, ``*`` for any) are the only peers whose
    ``X-Forwarded-For``/``X-Forwarded-Proto`` count; by default none do. ``public_docs`` and
    ``public_metrics`` default to on in development and test, off in production; with
    ``metrics_token`` set, ``/metrics`` answers a matching bearer token even when not public.
    """

    trusted_proxies: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    header_timeout_s: float = Field(10.0, gt=0, le=600)
    body_timeout_s: float = Field(30.0, gt=0, le=3600)
    keep_alive_timeout_s: float = Field(5.0, gt=0, le=600)
    max_header_bytes: int = Field(64 * 1024, ge=4096, le=1024 * 1024)
    public_docs: bool | None = None
    public_metrics: bool | None = None
    metrics_token: SecretStr | None = None


class TierQuota(BaseModel):
    """What one account of a tier may hold at once (``None``: no cap). ``gpu_instances`` caps
    GPU servers: ``replicas.max`` of each deployment that may run on a GPU
    (``services/quotas.py``)."""

    deployments: int | None = Field(None, ge=0)
    gpu_instances: int | None = Field(None, ge=0)
    api_keys: int | None = Field(None, ge=0)
    webhooks: int | None = Field(None, ge=0)


def _default_tiers() -> dict[str, TierQuota]:
    return {
        "free": TierQuota(deployments=3, gpu_instances=1, api_keys=10, webhooks=5),
        "pro": TierQuota(deployments=25, gpu_instances=10, api_keys=100, webhooks=25),
        "unlimited": TierQuota(),
    }


class QuotaSettings(BaseModel):
    """Per-account caps by tier (the user's ``tier`` column). A tier missing here gets
    ``default_tier``'s caps. Deleted deployments and revoked keys do not count."""

    tiers: dict[str, TierQuota] = Field(default_factory=_default_tiers)
    default_tier: str = "free"

    def for_tier(self, tier: str) -> TierQuota:
        return self.tiers.get(tier) or self.tiers.get(self.default_tier) or TierQuota()


class AgentSettings(BaseModel):
    """The deployment agent: how many workers, how long a row lease lasts, how often to sweep.

    ``workers`` applies to ``flowllama up`` and is the default of ``serve agent --workers``.
    """

    workers: int = Field(2, ge=1, le=64)
    lease_s: int = Field(30, ge=3)
    poll_s: float = Field(1.0, gt=0)
    sweep_interval_s: float = Field(30.0, gt=0)
    local_health_timeout_s: float = Field(600.0, gt=0)
    # Where user namespaces are unavailable, a local Ollama (which checks no key) is refused
    # unless this is on: single-user hosts only, since any local process can then call it.
    local_allow_unisolated_ollama: bool = False


class GatewaySettings(BaseModel):
    """The token API gateway (``/v1``): cache lifetimes, usage batching, upstream behaviour.

    The TTLs bound how stale a gateway process may be: a key revoked through another process
    stops working within ``key_cache_ttl_s``, a deployment change is routed within
    ``route_cache_ttl_s``, and a key's ``rpm``/``tpm`` counts reach the other gateways within two
    ``limit_sync_interval_s`` (one to write them, one for the others to read them).
    """

    key_cache_ttl_s: float = Field(5.0, gt=0, le=300)
    route_cache_ttl_s: float = Field(2.0, gt=0, le=300)
    usage_flush_interval_s: float = Field(2.0, gt=0, le=300)
    limit_sync_interval_s: float = Field(1.0, gt=0, le=60)
    upstream_connect_timeout_s: float = Field(5.0, gt=0)
    max_attempts: int = Field(3, ge=1, le=10)
    failure_cooldown_s: float = Field(10.0, ge=0)
    # A streamed answer's head must arrive within first_byte_timeout_s and each later byte
    # within stream_idle_timeout_s. A whole (non-streamed) answer's head comes only after the
    # generation, so it gets whole_answer_timeout_s (docs/gateway.md sizes it). breaker_failures
    # consecutive failures of a deployment refuse it (503) for breaker_cooldown_s, then one
    # probe request decides. Each instance takes at most parallel x inflight_per_slot requests
    # from a gateway process at a time; more are refused at once (503, Retry-After).
    first_byte_timeout_s: float = Field(60.0, gt=0)
    stream_idle_timeout_s: float = Field(60.0, gt=0)
    whole_answer_timeout_s: float = Field(180.0, gt=0)
    inflight_per_slot: int = Field(32, ge=1, le=1000)
    breaker_failures: int = Field(5, ge=1, le=1000)
    breaker_cooldown_s: float = Field(30.0, gt=0, le=3600)
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    # Where users reach the token API; shown as every deployment's endpoint.
    public_url: str | None = Field(None, pattern=r"^https?://\S+$")


class MonitorSettings(BaseModel):
    """Health checks, deep probes and auto-healing (see ``docs/monitor.md``)."""

    interval_s: float = Field(30.0, gt=0)
    timeout_s: float = Field(5.0, gt=0)
    deep_interval_s: float = Field(300.0, gt=0)
    deep_timeout_s: float = Field(30.0, gt=0)
    concurrency: int = Field(256, ge=1, le=10_000)
    failures_before_unhealthy: int = Field(3, ge=1)
    max_heal_attempts: int = Field(3, ge=0)
    heal_backoff_s: float = Field(30.0, ge=0)
    heal_backoff_max_s: float = Field(900.0, ge=0)


class AutopilotSettings(BaseModel):
    """The cost autopilot (``FLOWLLAMA_AUTOPILOT__*``, ``docs/autopilot.md``): idle sleep and
    wake, blue/green drains, load-based replicas, the cheaper-placement advisor, budgets."""

    interval_s: float = Field(15.0, gt=0, le=3600)
    load_report_interval_s: float = Field(2.0, gt=0, le=60)
    wake_hold_s: float = Field(120.0, ge=0, le=900)
    wake_retry_after_s: int = Field(60, ge=1, le=3600)
    # The shortest idle timeout honoured (a smaller one on a row counts as this); lower it
    # only for tests and demos.
    min_idle_timeout_s: float = Field(60.0, gt=0, le=30 * 24 * 3600)
    drain_timeout_s: float = Field(120.0, ge=0, le=3600)
    scale_up_queue_per_slot: float = Field(1.0, gt=0)
    scale_up_ttft_ms: float | None = Field(None, gt=0)
    scale_down_after_s: float = Field(300.0, ge=0)
    advisor_min_saving_usd_month: float = Field(10.0, ge=0)
    advisor_min_saving_percent: float = Field(10.0, ge=0, le=100)
    advisor_interval_s: float = Field(3600.0, gt=0, le=7 * 24 * 3600)


class WebhookSettings(BaseModel):
    """Outgoing webhooks: the SSRF allow-list, the request timeout and the retry schedule.

    ``allow_hosts`` lets host names or CIDR ranges through the SSRF rules (loopback for
    development and tests); leave it empty in production. ``allow_ports`` are the ports a
    webhook URL may use. ``receiver_concurrency`` bounds the attempts in flight to one receiver
    host and to one tenant, so a slow receiver cannot hold up anyone else's deliveries.
    ``secret_key`` encrypts signing secrets at rest (default: derived from the JWT secret).
    """

    allow_hosts: list[str] = Field(default_factory=list)
    timeout_s: float = Field(10.0, gt=0, le=120)
    max_attempts: int = Field(6, ge=1, le=30)
    backoff_base_s: float = Field(10.0, gt=0)
    backoff_max_s: float = Field(3600.0, gt=0)
    poll_s: float = Field(1.0, gt=0)
    batch_size: int = Field(20, ge=1, le=1000)
    allow_ports: list[int] = Field(default_factory=lambda: [80, 443])
    receiver_concurrency: int = Field(2, ge=1, le=100)
    secret_key: SecretStr | None = None
    rotation_overlap_s: int = Field(24 * 3600, ge=0, le=30 * 24 * 3600)

    @field_validator("allow_hosts")
    @classmethod
    def _valid_allow_list(cls, value: list[str]) -> list[str]:
        from flowllama.webhooks.ssrf import AllowList  # the parser lives with the rules

        try:
            AllowList(value)
        except ConfigError as exc:  # a typo must stop start-up, not fail each request
            raise ValueError(str(exc)) from exc
        return value

    @field_validator("allow_ports")
    @classmethod
    def _valid_ports(cls, value: list[int]) -> list[int]:
        if any(not 1 <= port <= 65535 for port in value):
            raise ValueError("ports are between 1 and 65535")
        return value


class LoopSettings(BaseModel):
    """Every background loop (agent workers and sweeper, monitor, webhook dispatcher, retention
    purge, the gateway's usage flusher and limit sync): the backoff after a failed round, and
    how long a loop may fail without a success before ``/ready`` answers 503."""

    backoff_base_s: float = Field(1.0, gt=0)
    backoff_max_s: float = Field(30.0, gt=0)
    stale_after_s: float = Field(120.0, gt=0)


class RetentionSettings(BaseModel):
    """How long finished records are kept; the agent purges older ones every ``interval_s`` in
    batches of ``batch_size`` rows. A ``*_days`` of 0 keeps that kind forever."""

    interval_s: float = Field(3600.0, gt=0)
    batch_size: int = Field(1000, ge=1, le=100_000)
    jobs_days: int = Field(14, ge=0)
    events_days: int = Field(90, ge=0)
    webhook_deliveries_days: int = Field(30, ge=0)
    expired_tokens_days: int = Field(1, ge=0)
    sent_mail_days: int = Field(1, ge=0)


class Settings(BaseSettings):
    """Root of the settings tree."""

    model_config = SettingsConfigDict(
        env_prefix="FLOWLLAMA_", env_nested_delimiter="__", extra="ignore"
    )

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(default_factory=lambda: Path.home() / ".flowllama")
    database_url: str | None = None
    models_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    metrics_port: int | None = Field(None, ge=0, le=65535)
    public_url: str | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "console"] = "json"
    web_origins: list[str] = Field(default_factory=list)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    quotas: QuotaSettings = Field(default_factory=QuotaSettings)
    mail: MailSettings = Field(default_factory=MailSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    monitor: MonitorSettings = Field(default_factory=MonitorSettings)
    autopilot: AutopilotSettings = Field(default_factory=AutopilotSettings)
    terraform: TerraformSettings = Field(default_factory=TerraformSettings)
    clouds: CloudsSettings = Field(default_factory=CloudsSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    loops: LoopSettings = Field(default_factory=LoopSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    loadtest: LoadtestSettings = Field(default_factory=LoadtestSettings)

    @property
    def effective_database_url(self) -> str:
        """The configured database, or SQLite under the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'flowllama.db'}"

    @property
    def effective_models_dir(self) -> Path:
        """Where local GGUF files are offered as ``local/<stem>`` models."""
        return self.models_dir or self.data_dir / "models"

    @property
    def effective_public_url(self) -> str:
        """Base URL put in links that leave the process (password-reset mail)."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def effective_gateway_url(self) -> str:
        """The token API's OpenAI base URL users call: ``gateway.public_url``, else ``/v1``
        under :attr:`effective_public_url` (where ``flowllama up`` serves it)."""
        return (self.gateway.public_url or f"{self.effective_public_url}/v1").rstrip("/")

    def jwt_secret(self) -> str:
        """The JWT signing secret; refuses weak ones outside development.

        In development and test a missing secret is generated once and kept in
        ``<data_dir>/jwt_secret`` with mode 0600, so tokens survive a restart.
        """
        configured = self.auth.jwt_secret.get_secret_value() if self.auth.jwt_secret else None
        production = self.env == "production"
        if configured is not None and _is_strong(configured, check_entropy=production):
            return configured
        if production:
            raise ConfigError(
                "FLOWLLAMA_AUTH__JWT_SECRET must be set to a random string of at least "
                f"{MIN_JWT_SECRET_LENGTH} characters in production (it is missing, short, a "
                "placeholder or too repetitive; e.g. `openssl rand -hex 32`)"
            )
        if configured is not None:
            raise ConfigError(
                "FLOWLLAMA_AUTH__JWT_SECRET is too weak (needs "
                f"{MIN_JWT_SECRET_LENGTH}+ characters, not a placeholder); unset it to have one "
                "generated in the data dir"
            )
        return _stored_secret(self.data_dir / "jwt_secret")

    @property
    def docs_public(self) -> bool:
        """Whether ``/api/docs`` and ``/api/openapi.json`` are served (off in production)."""
        return self.http.public_docs if self.http.public_docs is not None \
            else self.env != "production"

    @property
    def metrics_public(self) -> bool:
        """Whether ``/metrics`` answers without a token (off in production)."""
        return self.http.public_metrics if self.http.public_metrics is not None \
            else self.env != "production"


def _is_strong(secret: str, *, check_entropy: bool) -> bool:
    lowered = secret.strip().lower()
    if len(secret) < MIN_JWT_SECRET_LENGTH or lowered in PLACEHOLDER_SECRETS:
        return False
    if not check_entropy:
        return True
    periodic = secret in (secret + secret)[1:-1]  # one piece repeated: "abcabcabc…"
    return not periodic and _entropy_bits(secret) >= MIN_JWT_SECRET_BITS


def _entropy_bits(secret: str) -> float:
    """Shannon entropy of the characters times the length: an upper bound on the secret's
    strength that catches repeated or near-constant strings (``aaaa…``, ``abababab…``)."""
    counts = Counter(secret)
    per_char = -sum(n / len(secret) * math.log2(n / len(secret)) for n in counts.values())
    return per_char * len(secret)


def _stored_secret(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    secret = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting together must agree on one secret.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    return Settings()
