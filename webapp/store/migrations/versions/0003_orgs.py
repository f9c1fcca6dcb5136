"""Organisations: each one's sealed key, people's roles per organisation, and the
organisation of every API token, embed link and audit entry.

Rows written before there were organisations belong to the default one (that of
``BURKI_API_KEY``); an audit entry that opened nothing of an organisation has "".

Revision ID: 0003_orgs
Revises: 0002_history
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_orgs"
down_revision = "0002_history"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "orgs",
        sa.Column("slug", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("base_url", sa.String(512), nullable=False),
        sa.Column("sealed_key", sa.String(2048), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("key_set_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("slug", name="pk_orgs"),
    )
    op.create_table(
        "user_orgs",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("org", sa.String(32), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("name", "org", name="pk_user_orgs"),
    )
    for table in ("api_tokens", "embed_links"):
        op.add_column(
            table, sa.Column("org", sa.String(32), nullable=False, server_default="default")
        )
    op.add_column("audit_log", sa.Column("org", sa.String(32), nullable=False, server_default=""))


def downgrade() -> None:
    op.drop_column("audit_log", "org")
    for table in ("embed_links", "api_tokens"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("org")
    op.drop_table("user_orgs")
    op.drop_table("orgs")
