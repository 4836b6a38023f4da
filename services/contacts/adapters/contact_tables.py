"""The personal contacts table (prefixed `contacts_`: the service may share a database).

Besides the fields: `identity` (the duplicate key, unique per owner, so concurrent creates cannot
double a contact), `search_text` and `sort_key` (folded forms for search and order; `sort_key`
compares byte-wise on PostgreSQL too, so both databases list in the same order), and `import_id`
(set while the row belongs to an import in progress: every read skips such rows).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Float, Index, MetaData, String, Table, Text, false, func

metadata = MetaData()

# Byte-wise ("C") order on PostgreSQL, as SQLite's default BINARY collation compares.
SORT_TEXT = Text().with_variant(Text(collation="C"), "postgresql")

personal_contacts = Table(
    "contacts_personal",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner_id", String(64), nullable=False),
    Column("firstname", String(128), nullable=False, server_default=""),
    Column("lastname", String(128), nullable=False, server_default=""),
    Column("number", String(40), nullable=False, server_default=""),
    Column("mobile", String(40), nullable=False, server_default=""),
    Column("fax", String(40), nullable=False, server_default=""),
    Column("email", String(254), nullable=False, server_default=""),
    Column("company", String(128), nullable=False, server_default=""),
    Column("favorite", Boolean, nullable=False, server_default=false()),
    Column("identity", String(64), nullable=False),
    Column("search_text", Text, nullable=False),
    Column("sort_key", SORT_TEXT, nullable=False),
    Column("import_id", String(36), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

Index("contacts_personal_owner_identity", personal_contacts.c.owner_id, personal_contacts.c.identity, unique=True)
Index("contacts_personal_owner_order", personal_contacts.c.owner_id, personal_contacts.c.sort_key,
      personal_contacts.c.id)
Index("contacts_personal_pending", personal_contacts.c.import_id,
      postgresql_where=personal_contacts.c.import_id.isnot(None),
      sqlite_where=personal_contacts.c.import_id.isnot(None))

# Creations made with an idempotency key (docs/contacts.md, "Idempotent creation"): one row per owner and key,
# written in the contact's transaction; `created_at` in seconds since the epoch. Rows older than
# 24 h are dead (ignored, replaced by a new use of the key) and deleted periodically.
contacts_idempotency = Table(
    "contacts_idempotency",
    metadata,
    Column("owner_id", String(64), primary_key=True),
    Column("idempotency_key", String(128), primary_key=True),
    Column("contact_id", String(36), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
)
Index("contacts_idempotency_created", contacts_idempotency.c.created_at)

# Imports in progress: which process (`instance_id`, random per process) runs each, and when it last
# renewed its lease (seconds since the epoch). Registered in the transaction of the import's first
# batch; deleted when the import is published or discarded, or by any process once the lease expired
# (with the import's pending rows, in one transaction).
contacts_imports = Table(
    "contacts_imports",
    metadata,
    Column("import_id", String(36), primary_key=True),
    Column("owner_id", String(64), nullable=False),
    Column("instance_id", String(36), nullable=False),
    Column("renewed_at", Float, nullable=False),
)

# Favorites kept apart from what they name (docs/contacts.md, "The directory and favorites"): today
# the users of the system (source "internal", contact_id the user's id); a personal contact's
# favorite is its own `favorite` column. One row per owner and entry.
contacts_favorites = Table(
    "contacts_favorites",
    metadata,
    Column("owner_id", String(64), primary_key=True),
    Column("source", String(16), primary_key=True),
    Column("contact_id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
