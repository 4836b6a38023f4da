"""The auth service's tables (prefixed `auth_`: it may share a database, never its tables)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Integer, MetaData, String, Table, Text, false, func

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
    # ms since the epoch; tokens issued before it are refused (services/auth/domain/model.py)
    Column("credentials_changed_at", BigInteger, nullable=False, server_default="0"),
    Column("disabled", Boolean, nullable=False, server_default=false()),
)

# Credentials changes of the last token lifetime, deleted users' included: what verifiers load at
# start (ListRevocations). One row per user, its latest change; older rows are pruned.
revocations = Table(
    "auth_revocations",
    metadata,
    Column("user_id", String(36), primary_key=True),
    Column("changed_at", BigInteger, nullable=False, index=True),
)

# The token signing keys every replica shares (see services/auth/domain/signing_keys.py). One row
# per generation: the unique generation is what lets only one of two replicas create a key.
signing_keys = Table(
    "auth_signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("generation", Integer, nullable=False, unique=True),
    Column("private_key", Text, nullable=False),  # PKCS#8 PEM, encrypted if a passphrase is set
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("active_from", DateTime(timezone=True), nullable=False),
    Column("retired_at", DateTime(timezone=True), nullable=True),
)
