"""user services, agents and queues, call history, push registrations

Revision ID: telephony_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "telephony_0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "telephony_user_services",
        sa.Column("login", sa.String(64), primary_key=True),
        sa.Column("dnd", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("unconditional_enabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("unconditional_destination", sa.String(40), nullable=False, server_default=""),
        sa.Column("no_answer_enabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("no_answer_destination", sa.String(40), nullable=False, server_default=""),
        sa.Column("busy_enabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("busy_destination", sa.String(40), nullable=False, server_default=""),
    )
    op.create_table(
        "telephony_agents",
        sa.Column("number", sa.String(40), primary_key=True),
        sa.Column("login", sa.String(64), nullable=False),
    )
    op.create_table(
        "telephony_queues",
        sa.Column("id", ID, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("number", sa.String(40), nullable=False),
    )
    op.create_table(
        "telephony_queue_members",
        sa.Column("queue_id", ID, sa.ForeignKey("telephony_queues.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("agent_number", sa.String(40), sa.ForeignKey("telephony_agents.number", ondelete="CASCADE"),
                  primary_key=True),
    )
    op.create_table(
        "telephony_calls",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("linked_id", sa.String(64), nullable=False),
        sa.Column("src", sa.String(64), nullable=False),
        sa.Column("dst", sa.String(64), nullable=False),
        sa.Column("src_number", sa.String(64), nullable=False),
        sa.Column("dst_number", sa.String(64), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered", sa.Boolean, nullable=False),
    )
    op.create_index("telephony_calls_src", "telephony_calls", ["src", "start_at"])
    op.create_index("telephony_calls_dst", "telephony_calls", ["dst", "start_at"])
    op.create_table(
        "telephony_push_registrations",
        sa.Column("login", sa.String(64), primary_key=True),
        sa.Column("platform", sa.String(16), primary_key=True),
        sa.Column("token", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("telephony_push_registrations", "telephony_calls", "telephony_queue_members",
                  "telephony_queues", "telephony_agents", "telephony_user_services"):
        op.drop_table(table)
