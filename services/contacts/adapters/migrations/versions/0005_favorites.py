"""favorites of directory entries kept apart from them (the users of the system)

Revision ID: contacts_0005
Revises: contacts_0004
"""

import sqlalchemy as sa
from alembic import op

revision = "contacts_0005"
down_revision = "contacts_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contacts_favorites",
        sa.Column("owner_id", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(16), primary_key=True),
        sa.Column("contact_id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("contacts_favorites")
