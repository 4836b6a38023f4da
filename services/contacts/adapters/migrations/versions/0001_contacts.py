"""personal contacts

Revision ID: contacts_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "contacts_0001"
down_revision = None
branch_labels = None
depends_on = None

# Byte-wise order on PostgreSQL, as SQLite compares (services/contacts/adapters/contact_tables.py).
SORT_TEXT = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "contacts_personal",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("firstname", sa.String(128), nullable=False, server_default=""),
        sa.Column("lastname", sa.String(128), nullable=False, server_default=""),
        sa.Column("number", sa.String(40), nullable=False, server_default=""),
        sa.Column("mobile", sa.String(40), nullable=False, server_default=""),
        sa.Column("fax", sa.String(40), nullable=False, server_default=""),
        sa.Column("email", sa.String(254), nullable=False, server_default=""),
        sa.Column("company", sa.String(128), nullable=False, server_default=""),
        sa.Column("favorite", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("identity", sa.String(64), nullable=False),
        sa.Column("search_text", sa.Text, nullable=False),
        sa.Column("sort_key", SORT_TEXT, nullable=False),
        sa.Column("import_id", sa.String(36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("contacts_personal_owner_identity", "contacts_personal", ["owner_id", "identity"], unique=True)
    op.create_index("contacts_personal_owner_order", "contacts_personal", ["owner_id", "sort_key", "id"])
    op.create_index(
        "contacts_personal_pending", "contacts_personal", ["import_id"],
        postgresql_where=sa.text("import_id IS NOT NULL"), sqlite_where=sa.text("import_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_table("contacts_personal")
