"""presence: the configured user statuses and each user's chosen status

Revision ID: telephony_0002
Revises: telephony_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "telephony_0002"
down_revision = "telephony_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "telephony_user_status_table",
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("long_name", sa.String(128), nullable=False),
        sa.Column("color", sa.String(7), nullable=False),
        sa.Column("actions", sa.Text, nullable=False, server_default="[]"),
    )
    op.create_table(
        "telephony_user_statuses",
        sa.Column("login", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(64), nullable=False),
        sa.Column("chosen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("telephony_user_statuses")
    op.drop_table("telephony_user_status_table")
