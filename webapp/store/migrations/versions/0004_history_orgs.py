"""The history per organisation: ``org`` on alerts, actions and both summaries, and every
natural key including it (the same call id in two organisations is two calls).

Rows written before there were organisations belong to the default one (that of
``BURKI_API_KEY``). SQLite cannot change a key in place: batch mode copies each table
into a new one with the new keys; PostgreSQL alters them where they are.

Revision ID: 0004_history_orgs
Revises: 0003_orgs
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_history_orgs"
down_revision = "0003_orgs"
branch_labels = None
depends_on = None

SUMMARIES = {"call_summaries": "call_id", "campaign_summaries": "campaign_id"}


def _org() -> sa.Column[str]:
    return sa.Column("org", sa.String(32), nullable=False, server_default="default")


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(_org())
        batch.drop_constraint("uq_alerts_call_id_alert_id", type_="unique")
        batch.create_unique_constraint(
            "uq_alerts_org_call_id_alert_id", ["org", "call_id", "alert_id"]
        )
    with op.batch_alter_table("actions") as batch:
        batch.add_column(_org())
        # A stream's key names its organisation now: [<org>/]campaign:<id> is longer.
        batch.alter_column("stream", type_=sa.String(192), existing_nullable=False)
        batch.drop_constraint("uq_actions_key", type_="unique")
        batch.create_unique_constraint("uq_actions_org_key", ["org", "key"])
    for table, ident in SUMMARIES.items():
        with op.batch_alter_table(table) as batch:
            batch.add_column(_org())
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.create_primary_key(f"pk_{table}", ["org", ident])


def downgrade() -> None:
    """Back to one organisation: every other organisation's rows are deleted first (their
    ids may clash with the default's, and a row without its organisation is wrong)."""
    for table, ident in SUMMARIES.items():
        op.execute(sa.text(f"DELETE FROM {table} WHERE org <> 'default'"))
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.create_primary_key(f"pk_{table}", [ident])
            batch.drop_column("org")
    op.execute(sa.text("DELETE FROM actions WHERE org <> 'default'"))
    with op.batch_alter_table("actions") as batch:
        batch.drop_constraint("uq_actions_org_key", type_="unique")
        batch.create_unique_constraint("uq_actions_key", ["key"])
        batch.alter_column("stream", type_=sa.String(160), existing_nullable=False)
        batch.drop_column("org")
    op.execute(sa.text("DELETE FROM alerts WHERE org <> 'default'"))
    with op.batch_alter_table("alerts") as batch:
        batch.drop_constraint("uq_alerts_org_call_id_alert_id", type_="unique")
        batch.create_unique_constraint("uq_alerts_call_id_alert_id", ["call_id", "alert_id"])
        batch.drop_column("org")
