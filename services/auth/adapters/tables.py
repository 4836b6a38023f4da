"""The auth service's tables (prefixed `auth_`: it may share a database, never its tables)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, MetaData, String, Table, func

metadata = MetaData()

users = Table(
    "auth_users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("login", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("firstname", String(128), nullable=False, server_default=""),
    Column("lastname", String(128), nullable=False, server_default=""),
    Column("line", String(32), nullable=False, server_default=""),
    Column("mobile", String(32), nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
