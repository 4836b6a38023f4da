"""The qualification tables (prefixed `contacts_`: the service may share a database, never its tables).

Queue ids are plain integers: queues belong to the telephony service, so there is no foreign key
to them. Answers keep their wall-clock `time` naive (see domain/qualifications.py) and are read by
queue and time range, hence the (queue, time) index.
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
    UniqueConstraint,
    func,
    true,
)

metadata = MetaData()

# Ids are int64 in the API, so 64-bit columns: any id a caller sends can be looked up (PostgreSQL
# refuses a 32-bit comparison with a larger number). SQLite's INTEGER is 64-bit already, and SQLite
# numbers rows automatically only for a column declared exactly INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")

qualifications = Table(
    "contacts_qualifications",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("active", Boolean, nullable=False, server_default=true()),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

sub_qualifications = Table(
    "contacts_sub_qualifications",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("qualification_id", Id, ForeignKey("contacts_qualifications.id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("active", Boolean, nullable=False, server_default=true()),
    UniqueConstraint("qualification_id", "name", name="uq_contacts_sub_qualifications_name"),
)

qualification_queues = Table(
    "contacts_qualification_queues",
    metadata,
    Column("qualification_id", Id, ForeignKey("contacts_qualifications.id"), primary_key=True),
    Column("queue_id", BigInteger, primary_key=True),
    Index("ix_contacts_qualification_queues_queue", "queue_id"),
)

answers = Table(
    "contacts_qualification_answers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("sub_qualification_id", Id, ForeignKey("contacts_sub_qualifications.id"), nullable=False),
    Column("time", DateTime(timezone=False), nullable=False),
    Column("callid", String(128), nullable=False),
    Column("agent", BigInteger, nullable=False),
    Column("queue", BigInteger, nullable=False),
    Column("first_name", String(128), nullable=False),
    Column("last_name", String(128), nullable=False),
    Column("comment", Text, nullable=False),
    Column("custom_data", Text, nullable=False),
    Column("answered_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_contacts_qualification_answers_queue_time", "queue", "time"),
)
