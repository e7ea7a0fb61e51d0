"""The platform's schema (SQLAlchemy 2 declarative). Migrations live in ``migrations/``.

Ids are random hex strings so that URLs reveal nothing about other tenants. Every table a
tenant owns carries ``user_id`` and is always queried through it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from flowllama.db.types import UTCDateTime, new_id, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

IdColumn = String(32)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


def _owner() -> Mapped[str]:
    return mapped_column(IdColumn, ForeignKey("users.id", ondelete="CASCADE"), index=True)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    tier: Mapped[str] = mapped_column(String(16), default="free")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set by an administrator: no login, refresh or access token works while it is set.
    disabled_at: Mapped[datetime | None]


class RefreshToken(Base):
    """One refresh token; rotating it marks it used and links the next one in the family."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    user_id: Mapped[str] = _owner()
    family_id: Mapped[str] = mapped_column(IdColumn, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class PasswordResetToken(Base):
    __tablename__ = "password_reset_tokens"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    user_id: Mapped[str] = _owner()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class ThrottleCounter(Base):
    """Requests one subject (``login:<email>|<address>``, ``register:<address>``…) made in
    the current fixed window; shared by every API process and bumped atomically
    (``services/throttle.py``)."""

    __tablename__ = "throttle_counters"
    __table_args__ = (Index("ix_throttle_counters_window_start", "window_start"),)

    subject: Mapped[str] = mapped_column(String(400), primary_key=True)
    window_start: Mapped[datetime]
    count: Mapped[int] = mapped_column(Integer)


class ResetRequest(Base):
    """A password-reset request, queued as is: the accounts worker looks the email up later,
    so the request does the same work whether or not the email has an account."""

    __tablename__ = "reset_requests"
    __table_args__ = (Index("ix_reset_requests_pending", "processed_at", "created_at"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]


class MailOutbox(Base):
    """A message waiting for the mail worker (``services/mail_outbox.py``): requests only
    write rows here, so a slow or broken mail server never shows in an answer."""

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_pending", "sent_at", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    user_id: Mapped[str] = _owner()
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    models: Mapped[list[Any] | None] = mapped_column(JSON)
    rpm: Mapped[int | None]
    tpm: Mapped[int | None]
    monthly_token_budget: Mapped[int | None] = mapped_column(BigInteger)
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Deployment(Base):
    """What a user asked for (``desired_state``) and what is true (``status``)."""

    __tablename__ = "deployments"
    __table_args__ = (
        Index(
            "uq_deployments_user_name_live", "user_id", "name", unique=True,
            sqlite_where=text("deleted_at IS NULL"), postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_deployments_status", "status"),
        UniqueConstraint("user_id", "idempotency_key", name="uq_deployments_user_idempotency"),
    )

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    user_id: Mapped[str] = _owner()
    name: Mapped[str] = mapped_column(String(63))
    model: Mapped[str] = mapped_column(String(200))
    runtime: Mapped[str] = mapped_column(String(32), default="auto")
    context_size: Mapped[int]
    parallel: Mapped[int] = mapped_column(default=1)
    spot_tolerance: Mapped[str] = mapped_column(String(8), default="none")
    gpu: Mapped[str] = mapped_column(String(32), default="auto")
    cloud: Mapped[str] = mapped_column(String(16), default="auto")
    region: Mapped[str | None] = mapped_column(String(64))
    instance_type: Mapped[str | None] = mapped_column(String(64))
    desired_state: Mapped[str] = mapped_column(String(16), default="running")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    status_message: Mapped[str | None] = mapped_column(Text)
    estimate: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    lease_token: Mapped[str | None] = mapped_column(String(32))
    lease_expires_at: Mapped[datetime | None]
    # Who holds the lease (``agent/lease_owner.py``): an agent on the same host frees at once
    # the lease of a holder that is provably gone (``agent/leases.py``).
    lease_owner: Mapped[str | None] = mapped_column(String(512))
    heal_attempts: Mapped[int] = mapped_column(default=0)
    # Cost autopilot (docs/autopilot.md): a change of spec or placement bumps ``generation``
    # and the agent replaces every server of an older one, blue/green.
    generation: Mapped[int] = mapped_column(default=0)
    failed_generation: Mapped[int | None]
    rollout_error: Mapped[str | None] = mapped_column(Text)
    placement_pin: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    excluded_offers: Mapped[list[Any] | None] = mapped_column(JSON)
    replicas_min: Mapped[int] = mapped_column(default=1)
    replicas_max: Mapped[int] = mapped_column(default=1)
    replicas_desired: Mapped[int] = mapped_column(default=1)
    idle_timeout_s: Mapped[int | None]
    auto_move: Mapped[bool] = mapped_column(Boolean, default=False)
    wake_count: Mapped[int] = mapped_column(default=0)
    asleep_since: Mapped[datetime | None]
    asleep_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None]


class Instance(Base):
    """One provisioned server of a deployment."""

    __tablename__ = "instances"
    __table_args__ = (Index("ix_instances_status_checked", "status", "last_check_at"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    deployment_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("deployments.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(32))
    handle: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    cloud: Mapped[str | None] = mapped_column(String(16))
    region: Mapped[str | None] = mapped_column(String(64))
    zone: Mapped[str | None] = mapped_column(String(64))
    instance_type: Mapped[str | None] = mapped_column(String(64))
    spot: Mapped[bool] = mapped_column(Boolean, default=False)
    endpoint_url: Mapped[str | None] = mapped_column(String(500))
    price_per_hour: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="starting")
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    last_check_at: Mapped[datetime | None]
    last_latency_ms: Mapped[float | None] = mapped_column(Float)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    terminated_at: Mapped[datetime | None]
    # Which server of the deployment this is (``DeploymentSpec.slot``: replicas and blue/green
    # replacements run side by side), the deployment generation it was built for, and since
    # when the gateway no longer sends it new requests (it is destroyed once drained).
    slot: Mapped[str] = mapped_column(String(32), default="")
    generation: Mapped[int] = mapped_column(default=0)
    draining_since: Mapped[datetime | None]


class ExternalServer(Base):
    """An inference server FlowLlama adopts but does not run (``cloud: external``): where it
    is, which API it speaks, and the secret the gateway and monitor present to it, sealed
    (:mod:`flowllama.security.upstream_secrets`). One row per deployment; kept while the
    deployment is stopped, its secret wiped when the deployment is deleted."""

    __tablename__ = "external_servers"

    deployment_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True
    )
    api: Mapped[str] = mapped_column(String(16))
    base_url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DeploymentEvent(Base):
    __tablename__ = "deployment_events"
    __table_args__ = (Index("ix_deployment_events_deployment_at", "deployment_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deployment_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("deployments.id", ondelete="CASCADE")
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Job(Base):
    """A unit of agent work; leased, acked, retried with backoff, or dead-lettered."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_ready", "status", "priority", "run_after"),
        Index("ix_jobs_user_status", "user_id", "status"),
    )

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    user_id: Mapped[str] = _owner()
    deployment_id: Mapped[str | None] = mapped_column(
        IdColumn, ForeignKey("deployments.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    priority: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=3)
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    lease_token: Mapped[str | None] = mapped_column(String(32))
    lease_expires_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class UsageDaily(Base):
    """Token usage rolled up per day, key, deployment and model (one row per combination)."""

    __tablename__ = "usage_daily"
    __table_args__ = (
        UniqueConstraint("day", "user_id", "api_key_id", "deployment_id", "model",
                         name="uq_usage_daily_bucket"),
        Index("ix_usage_daily_user_day", "user_id", "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    user_id: Mapped[str] = _owner()
    api_key_id: Mapped[str | None] = mapped_column(
        IdColumn, ForeignKey("api_keys.id", ondelete="SET NULL")
    )
    deployment_id: Mapped[str | None] = mapped_column(
        IdColumn, ForeignKey("deployments.id", ondelete="SET NULL")
    )
    model: Mapped[str] = mapped_column(String(200))
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    completion_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)


class RateCount(Base):
    """Requests or tokens one API key used in one minute, summed over all gateway processes.

    Gateways add their counts every ``limit_sync_interval_s`` and read back the current and
    previous minute (``gateway/limit_sync.py``); rows a few minutes old are deleted.
    """

    __tablename__ = "rate_counts"
    __table_args__ = (Index("ix_rate_counts_minute", "minute"),)

    api_key_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # requests | tokens
    minute: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # since the epoch
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class Webhook(Base):
    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    user_id: Mapped[str] = _owner()
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # Encrypted at rest (``webhooks/secrets.py``); the previous secret still signs deliveries
    # until ``previous_secret_expires_at`` after a rotation.
    secret: Mapped[str] = mapped_column(String(500))
    previous_secret: Mapped[str | None] = mapped_column(String(500))
    previous_secret_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_webhook_created", "webhook_id", "created_at"),
        Index("ix_webhook_deliveries_pending", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    webhook_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("webhooks.id", ondelete="CASCADE")
    )
    event: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    response_status: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


class LoadtestRun(Base):
    """A load test of one deployment asked through the API or by its schedule; the agent's
    load-test executor runs it (``loadtest/executor.py``), the results go to the store.

    At most one ``queued`` or ``running`` run per deployment (the partial unique index)."""

    __tablename__ = "loadtest_runs"
    __table_args__ = (
        Index("uq_loadtest_runs_active", "deployment_id", unique=True,
              sqlite_where=text("status IN ('queued', 'running')"),
              postgresql_where=text("status IN ('queued', 'running')")),
        Index("ix_loadtest_runs_deployment_created", "deployment_id", "created_at"),
        Index("ix_loadtest_runs_status_created", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    user_id: Mapped[str] = _owner()
    deployment_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("deployments.id", ondelete="CASCADE"))
    trigger: Mapped[str] = mapped_column(String(16), default="manual")
    status: Mapped[str] = mapped_column(String(16), default="queued")
    duration_s: Mapped[int]
    users: Mapped[int]
    # Where the results are: the store's target slug and run id (set when the run succeeded).
    target: Mapped[str | None] = mapped_column(String(100))
    run_id: Mapped[str | None] = mapped_column(String(40))
    totals: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    # The short-lived API key made for this run (revoked when it ends).
    api_key_id: Mapped[str | None] = mapped_column(IdColumn)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class LoadtestSchedule(Base):
    """A deployment's recurring load test; off unless its owner turned it on."""

    __tablename__ = "loadtest_schedules"
    __table_args__ = (Index("ix_loadtest_schedules_due", "enabled", "next_run_at"),)

    deployment_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = _owner()
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    interval_s: Mapped[int]
    duration_s: Mapped[int]
    users: Mapped[int]
    next_run_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# The cost autopilot's tables live in their own module; importing it here registers them on
# ``Base.metadata`` for Alembic and ``create_all`` (it needs ``Base``, defined above).
from flowllama.db import autopilot_tables as _autopilot_tables  # noqa: E402, F401
