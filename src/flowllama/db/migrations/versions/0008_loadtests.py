"""loadtest_runs and loadtest_schedules: load tests asked through the API or on a schedule

Revision ID: 0008_loadtests
Revises: 0007_user_disabled
Create Date: 2026-12-05 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_loadtests"
down_revision = "0007_user_disabled"
branch_labels = None
depends_on = None

ACTIVE = "status IN ('queued', 'running')"


def upgrade() -> None:
    op.create_table(
        "loadtest_runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("deployment_id", sa.String(length=32), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("duration_s", sa.Integer(), nullable=False),
        sa.Column("users", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=True),
        sa.Column("run_id", sa.String(length=40), nullable=True),
        sa.Column("totals", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("api_key_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["deployment_id"], ["deployments.id"], ondelete="CASCADE",
                                name=op.f("fk_loadtest_runs_deployment_id_deployments")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_loadtest_runs_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loadtest_runs")),
    )
    with op.batch_alter_table("loadtest_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_loadtest_runs_user_id"), ["user_id"], unique=False)
        batch_op.create_index("ix_loadtest_runs_deployment_created",
                              ["deployment_id", "created_at"], unique=False)
        batch_op.create_index("ix_loadtest_runs_status_created", ["status", "created_at"],
                              unique=False)
        batch_op.create_index("uq_loadtest_runs_active", ["deployment_id"], unique=True,
                              sqlite_where=sa.text(ACTIVE), postgresql_where=sa.text(ACTIVE))
    op.create_table(
        "loadtest_schedules",
        sa.Column("deployment_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("interval_s", sa.Integer(), nullable=False),
        sa.Column("duration_s", sa.Integer(), nullable=False),
        sa.Column("users", sa.Integer(), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["deployment_id"], ["deployments.id"], ondelete="CASCADE",
                                name=op.f("fk_loadtest_schedules_deployment_id_deployments")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_loadtest_schedules_user_id_users")),
        sa.PrimaryKeyConstraint("deployment_id", name=op.f("pk_loadtest_schedules")),
    )
    with op.batch_alter_table("loadtest_schedules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_loadtest_schedules_user_id"), ["user_id"],
                              unique=False)
        batch_op.create_index("ix_loadtest_schedules_due", ["enabled", "next_run_at"],
                              unique=False)


def downgrade() -> None:
    op.drop_table("loadtest_schedules")
    op.drop_table("loadtest_runs")
