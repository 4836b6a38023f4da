"""personal contacts: the duplicate key keeps 128 bits of its SHA-256 (32 hex digits, was 64)

A shorter key makes the unique (owner, identity) index smaller and a large import faster. The
new key of an existing contact is the prefix of its old one, so no row needs recomputing. The
column keeps its type (a String(64) holds either form).

Revision ID: contacts_0003
Revises: contacts_0002
"""

from alembic import op

revision = "contacts_0003"
down_revision = "contacts_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE contacts_personal SET identity = substr(identity, 1, 32) WHERE length(identity) > 32")


def downgrade() -> None:
    # The dropped half of each key cannot be recomputed in SQL: the earlier code would no longer
    # see these contacts as duplicates of new ones. Go forward again rather than back.
    pass
