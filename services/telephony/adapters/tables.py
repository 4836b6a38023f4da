"""The telephony tables (prefixed `telephony_`: the service may share a database, never its tables).

Users are the auth service's: rows refer to them by login, without a foreign key. Ended calls are
read per user, newest first, hence the (party, start) indexes on both sides.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)

metadata = MetaData()
Id = BigInteger().with_variant(Integer(), "sqlite")

user_services = Table(
    "telephony_user_services",
    metadata,
    Column("login", String(64), primary_key=True),
    Column("dnd", Boolean, nullable=False, server_default=false()),
    Column("unconditional_enabled", Boolean, nullable=False, server_default=false()),
    Column("unconditional_destination", String(40), nullable=False, server_default=""),
    Column("no_answer_enabled", Boolean, nullable=False, server_default=false()),
    Column("no_answer_destination", String(40), nullable=False, server_default=""),
    Column("busy_enabled", Boolean, nullable=False, server_default=false()),
    Column("busy_destination", String(40), nullable=False, server_default=""),
)

agents = Table(
    "telephony_agents",
    metadata,
    Column("number", String(40), primary_key=True),
    Column("login", String(64), nullable=False),
)

queues = Table(
    "telephony_queues",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=False),
    Column("name", String(128), nullable=False),
    Column("number", String(40), nullable=False),
)

queue_members = Table(
    "telephony_queue_members",
    metadata,
    Column("queue_id", Id, ForeignKey("telephony_queues.id", ondelete="CASCADE"), primary_key=True),
    Column("agent_number", String(40), ForeignKey("telephony_agents.number", ondelete="CASCADE"),
           primary_key=True),
)

calls = Table(
    "telephony_calls",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("linked_id", String(64), nullable=False),
    Column("src", String(64), nullable=False),  # a login, or a number for a party that is no user
    Column("dst", String(64), nullable=False),
    Column("src_number", String(64), nullable=False),
    Column("dst_number", String(64), nullable=False),
    Column("start_at", DateTime(timezone=True), nullable=False),
    Column("end_at", DateTime(timezone=True), nullable=False),
    Column("answered", Boolean, nullable=False),
    Index("telephony_calls_src", "src", "start_at"),
    Index("telephony_calls_dst", "dst", "start_at"),
)

push_registrations = Table(
    "telephony_push_registrations",
    metadata,
    Column("login", String(64), primary_key=True),
    Column("platform", String(16), primary_key=True),
    Column("token", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Presence: the configured statuses, in order (actions as JSON: a list of {name, parameters}), and
# each user's last choice (a name; one no longer configured reads as the first status).
user_status_table = Table(
    "telephony_user_status_table",
    metadata,
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("name", String(64), nullable=False, unique=True),
    Column("long_name", String(128), nullable=False),
    Column("color", String(7), nullable=False),
    Column("actions", Text, nullable=False, server_default="[]"),
)

chosen_user_statuses = Table(
    "telephony_user_statuses",
    metadata,
    Column("login", String(64), primary_key=True),
    Column("status", String(64), nullable=False),
    Column("chosen_at", DateTime(timezone=True), nullable=False),
)
