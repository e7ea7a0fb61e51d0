"""external_servers: inference servers adopted as deployments (cloud: external)

Revision ID: 0006_external_deployments
Revises: 0005_lease_owner
Create Date: 2026-12-05 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_external_deployments"
down_revision = "0005_lease_owner"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "external_servers",
        sa.Column("deployment_id", sa.String(length=32), nullable=False),
        sa.Column("api", sa.String(length=16), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["deployment_id"], ["deployments.id"],
                                name=op.f("fk_external_servers_deployment_id_deployments"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("deployment_id", name=op.f("pk_external_servers")),
    )


def downgrade() -> None:
    op.drop_table("external_servers")
