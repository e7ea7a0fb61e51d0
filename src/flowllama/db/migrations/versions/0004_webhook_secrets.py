"""webhooks: room for encrypted secrets, and the previous secret kept during a rotation

Revision ID: 0004_webhook_secrets
Revises: 0003_accounts_hardening
Create Date: 2026-12-05 01:00:00.000000

Secrets already stored in clear are encrypted at start-up by
``flowllama.webhooks.secrets.seal_plaintext`` (it needs the key from the settings, which a
migration does not see).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_webhook_secrets"
down_revision = "0003_accounts_hardening"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.alter_column("secret", existing_type=sa.String(length=200),
                              type_=sa.String(length=500), existing_nullable=False)
        batch_op.add_column(sa.Column("previous_secret", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("previous_secret_expires_at",
                                      sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.drop_column("previous_secret_expires_at")
        batch_op.drop_column("previous_secret")
        batch_op.alter_column("secret", existing_type=sa.String(length=500),
                              type_=sa.String(length=200), existing_nullable=False)
