"""idempotency keys of contact creations, and the leases of imports in progress

Revision ID: contacts_0004
Revises: contacts_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "contacts_0004"
down_revision = "contacts_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contacts_idempotency",
        sa.Column("owner_id", sa.String(64), primary_key=True),
        sa.Column("idempotency_key", sa.String(128), primary_key=True),
        sa.Column("contact_id", sa.String(36), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("contacts_idempotency_created", "contacts_idempotency", ["created_at"])
    op.create_table(
        "contacts_imports",
        sa.Column("import_id", sa.String(36), primary_key=True),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("instance_id", sa.String(36), nullable=False),
        sa.Column("renewed_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("contacts_imports")
    op.drop_index("contacts_idempotency_created", table_name="contacts_idempotency")
    op.drop_table("contacts_idempotency")
