"""credentials changed time and disabled flag of users; the recent revocations

Revision ID: auth_0003
Revises: auth_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "auth_0003"
down_revision = "auth_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("auth_users") as batch:
        batch.add_column(sa.Column("credentials_changed_at", sa.BigInteger, nullable=False, server_default="0"))
        batch.add_column(sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "auth_revocations",
        sa.Column("user_id", sa.String(36), primary_key=True),
        sa.Column("changed_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_auth_revocations_changed_at", "auth_revocations", ["changed_at"])


def downgrade() -> None:
    op.drop_index("ix_auth_revocations_changed_at", "auth_revocations")
    op.drop_table("auth_revocations")
    with op.batch_alter_table("auth_users") as batch:
        batch.drop_column("disabled")
        batch.drop_column("credentials_changed_at")
