"""lease_owner on deployments; drop the never-read models and pricing_cache tables

Revision ID: 0005_lease_owner
Revises: 0004_webhook_secrets
Create Date: 2026-12-05 00:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_lease_owner"
down_revision = "0004_webhook_secrets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=512), nullable=True))
    op.drop_table("pricing_cache")
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_models_family"))
    op.drop_table("models")


def downgrade() -> None:
    op.create_table(
        "models",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("family", sa.String(length=64), nullable=False),
        sa.Column("parameters", sa.String(length=32), nullable=False),
        sa.Column("quantization", sa.String(length=32), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("min_vram_bytes", sa.BigInteger(), nullable=True),
        sa.Column("min_ram_bytes", sa.BigInteger(), nullable=True),
        sa.Column("context_length", sa.Integer(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_models")),
    )
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_models_family"), ["family"], unique=False)
    op.create_table(
        "pricing_cache",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_pricing_cache")),
    )
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_column("lease_owner")
