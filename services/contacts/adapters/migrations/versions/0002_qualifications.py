"""qualifications, their sub-qualifications and queues, and the answers

Revision ID: contacts_0002
Revises: contacts_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "contacts_0002"
down_revision = "contacts_0001"
branch_labels = None
depends_on = None

# As in adapters/qualification_tables.py: 64-bit ids (the API's int64), and INTEGER PRIMARY KEY on
# SQLite, the only column SQLite numbers automatically.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "contacts_qualifications",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "contacts_sub_qualifications",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("qualification_id", ID, sa.ForeignKey("contacts_qualifications.id"), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.UniqueConstraint("qualification_id", "name", name="uq_contacts_sub_qualifications_name"),
    )
    op.create_table(
        "contacts_qualification_queues",
        sa.Column("qualification_id", ID, sa.ForeignKey("contacts_qualifications.id"), primary_key=True),
        sa.Column("queue_id", sa.BigInteger, primary_key=True),
    )
    op.create_index("ix_contacts_qualification_queues_queue", "contacts_qualification_queues", ["queue_id"])
    op.create_table(
        "contacts_qualification_answers",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("sub_qualification_id", ID, sa.ForeignKey("contacts_sub_qualifications.id"),
                  nullable=False),
        sa.Column("time", sa.DateTime(timezone=False), nullable=False),
        sa.Column("callid", sa.String(128), nullable=False),
        sa.Column("agent", sa.BigInteger, nullable=False),
        sa.Column("queue", sa.BigInteger, nullable=False),
        sa.Column("first_name", sa.String(128), nullable=False),
        sa.Column("last_name", sa.String(128), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("custom_data", sa.Text, nullable=False),
        sa.Column("answered_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_contacts_qualification_answers_queue_time", "contacts_qualification_answers",
                    ["queue", "time"])


def downgrade() -> None:
    op.drop_index("ix_contacts_qualification_answers_queue_time", "contacts_qualification_answers")
    op.drop_table("contacts_qualification_answers")
    op.drop_index("ix_contacts_qualification_queues_queue", "contacts_qualification_queues")
    op.drop_table("contacts_qualification_queues")
    op.drop_table("contacts_sub_qualifications")
    op.drop_table("contacts_qualifications")
