"""The cost autopilot: generations, replicas, sleep and moves on deployments; slots on
instances; gateway load reports, recommendations, budgets and their alerts

Revision ID: 0009_autopilot
Revises: 0008_loadtests
Create Date: 2026-12-05 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_autopilot"
down_revision = "0008_loadtests"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ID = sa.String(length=32)


def _deployment_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("generation", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("failed_generation", sa.Integer(), nullable=True),
        sa.Column("rollout_error", sa.Text(), nullable=True),
        sa.Column("placement_pin", sa.JSON(), nullable=True),
        sa.Column("excluded_offers", sa.JSON(), nullable=True),
        sa.Column("replicas_min", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("replicas_max", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("replicas_desired", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("idle_timeout_s", sa.Integer(), nullable=True),
        sa.Column("auto_move", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("wake_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("asleep_since", TS, nullable=True),
        sa.Column("asleep_seconds", sa.Float(), nullable=False, server_default="0"),
    ]


def upgrade() -> None:
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        for column in _deployment_columns():
            batch_op.add_column(column)
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slot", sa.String(length=32), nullable=False,
                                      server_default=""))
        batch_op.add_column(sa.Column("generation", sa.Integer(), nullable=False,
                                      server_default="0"))
        batch_op.add_column(sa.Column("draining_since", TS, nullable=True))
    op.create_table(
        "gateway_load",
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("instance_id", sa.String(length=32), nullable=False),
        sa.Column("deployment_id", ID, nullable=False),
        sa.Column("in_flight", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("ttft_ms", sa.Float(), nullable=True),
        sa.Column("last_request_at", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["deployment_id"], ["deployments.id"], ondelete="CASCADE",
                                name=op.f("fk_gateway_load_deployment_id_deployments")),
        sa.PrimaryKeyConstraint("gateway_id", "instance_id", name=op.f("pk_gateway_load")),
    )
    op.create_index("ix_gateway_load_deployment", "gateway_load", ["deployment_id"])
    op.create_table(
        "recommendations",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("deployment_id", ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("placement", sa.JSON(), nullable=False),
        sa.Column("current_price_per_hour", sa.Float(), nullable=False),
        sa.Column("new_price_per_hour", sa.Float(), nullable=False),
        sa.Column("monthly_saving_usd", sa.Float(), nullable=False),
        sa.Column("saving_percent", sa.Float(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["deployment_id"], ["deployments.id"], ondelete="CASCADE",
                                name=op.f("fk_recommendations_deployment_id_deployments")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_recommendations_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recommendations")),
    )
    op.create_index("ix_recommendations_deployment_status", "recommendations",
                    ["deployment_id", "status"])
    op.create_index(op.f("ix_recommendations_user_id"), "recommendations", ["user_id"])
    op.create_table(
        "budgets",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("api_key_id", ID, nullable=True),
        sa.Column("monthly_usd", sa.Float(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_keys.id"], ondelete="CASCADE",
                                name=op.f("fk_budgets_api_key_id_api_keys")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_budgets_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budgets")),
        sa.UniqueConstraint("user_id", "scope", name="uq_budgets_user_scope"),
    )
    op.create_index(op.f("ix_budgets_user_id"), "budgets", ["user_id"])
    op.create_table(
        "budget_alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("budget_id", ID, nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("spend_usd", sa.Float(), nullable=False),
        sa.Column("action_taken", sa.String(length=16), nullable=True),
        sa.Column("at", TS, nullable=False),
        sa.ForeignKeyConstraint(["budget_id"], ["budgets.id"], ondelete="CASCADE",
                                name=op.f("fk_budget_alerts_budget_id_budgets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_alerts")),
        sa.UniqueConstraint("budget_id", "month", "threshold", name="uq_budget_alerts_once"),
    )
    op.create_index(op.f("ix_budget_alerts_budget_id"), "budget_alerts", ["budget_id"])


def downgrade() -> None:
    op.drop_table("budget_alerts")
    op.drop_table("budgets")
    op.drop_table("recommendations")
    op.drop_table("gateway_load")
    with op.batch_alter_table("instances", schema=None) as batch_op:
        for name in ("draining_since", "generation", "slot"):
            batch_op.drop_column(name)
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        for column in reversed(_deployment_columns()):
            batch_op.drop_column(column.name)
