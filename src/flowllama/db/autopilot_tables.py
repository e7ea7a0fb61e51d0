"""Tables of the cost autopilot (``docs/autopilot.md``): what gateways report about load, the
cheaper-placement advisor's recommendations, and spend budgets with the alerts they raised."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from flowllama.db.tables import Base, IdColumn, _owner
from flowllama.db.types import new_id, utcnow


class GatewayLoad(Base):
    """What one gateway process saw of one instance lately, written every few seconds: requests
    in flight (drain and scaling), requests and mean time to first token since its previous
    report (scaling), and its last request (idle sleep). Rows of gone instances age out."""

    __tablename__ = "gateway_load"
    __table_args__ = (Index("ix_gateway_load_deployment", "deployment_id"),)

    gateway_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    instance_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    deployment_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("deployments.id", ondelete="CASCADE"))
    in_flight: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    ttft_ms: Mapped[float | None] = mapped_column(Float)
    last_request_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Recommendation(Base):
    """A cheaper feasible placement the advisor found for a running deployment.

    ``status``: ``open`` (shown, may be accepted), ``accepted`` (a blue/green move is under
    way or done), ``dismissed`` by the owner, or ``superseded`` by a newer one or by a change
    of the deployment. At most one ``open`` per deployment.
    """

    __tablename__ = "recommendations"
    __table_args__ = (Index("ix_recommendations_deployment_status", "deployment_id", "status"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    user_id: Mapped[str] = _owner()
    deployment_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("deployments.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="open")
    placement: Mapped[dict[str, Any]] = mapped_column(JSON)
    current_price_per_hour: Mapped[float] = mapped_column(Float)
    new_price_per_hour: Mapped[float] = mapped_column(Float)
    monthly_saving_usd: Mapped[float] = mapped_column(Float)
    saving_percent: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]


class Budget(Base):
    """A monthly spend budget of a user (``api_key_id`` null: server hours and tokens of all
    their deployments) or of one API key (the token usage it metered); ``action`` at 100 % is
    ``stop`` or ``warn``. One per user and scope (``scope`` = ``user`` or the key id)."""

    __tablename__ = "budgets"
    __table_args__ = (UniqueConstraint("user_id", "scope", name="uq_budgets_user_scope"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    user_id: Mapped[str] = _owner()
    scope: Mapped[str] = mapped_column(String(32))
    api_key_id: Mapped[str | None] = mapped_column(
        IdColumn, ForeignKey("api_keys.id", ondelete="CASCADE"))
    monthly_usd: Mapped[float] = mapped_column(Float)
    action: Mapped[str] = mapped_column(String(8), default="warn")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class BudgetAlert(Base):
    """A threshold (50, 80, 100 %) a budget crossed in a month: written once, which is what
    makes its webhook, its UI notice and a stop at 100 % happen exactly once."""

    __tablename__ = "budget_alerts"
    __table_args__ = (UniqueConstraint("budget_id", "month", "threshold",
                                       name="uq_budget_alerts_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    budget_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("budgets.id", ondelete="CASCADE"), index=True)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    threshold: Mapped[int] = mapped_column(Integer)
    spend_usd: Mapped[float] = mapped_column(Float)
    action_taken: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(default=utcnow)
