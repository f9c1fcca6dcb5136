"""History: alerts, people's actions, one summary per ended call and per ended campaign.

Revision ID: 0002_history
Revises: 0001_access
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_history"
down_revision = "0001_access"
branch_labels = None
depends_on = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", ROW_ID, autoincrement=True),
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("alert_id", sa.String(64), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("message", sa.String(256), nullable=False),
        sa.Column("excerpt", sa.String(256), nullable=False),
        sa.Column("assistant", sa.String(128), nullable=False, server_default=""),
        sa.Column("handled_by", sa.String(128), nullable=True),
        sa.Column("handled_how", sa.String(16), nullable=True),
        sa.Column("handled_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.UniqueConstraint("call_id", "alert_id", name="uq_alerts_call_id_alert_id"),
    )
    op.create_index("ix_alerts_at", "alerts", ["at"])
    op.create_table(
        "actions",
        sa.Column("id", ROW_ID, autoincrement=True),
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("stream", sa.String(160), nullable=False),
        sa.Column("what", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("who", sa.String(128), nullable=False),
        sa.Column("message", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_actions"),
        sa.UniqueConstraint("key", name="uq_actions_key"),
    )
    op.create_index("ix_actions_at", "actions", ["at"])
    op.create_table(
        "call_summaries",
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("ended_at", WHEN, nullable=False),
        sa.Column("assistant", sa.String(128), nullable=False),
        sa.Column("length", sa.Float(), nullable=True),
        sa.Column("latency_median", sa.Float(), nullable=True),
        sa.Column("latency_worst", sa.Float(), nullable=True),
        sa.Column("longest_silence", sa.Float(), nullable=True),
        sa.Column("dead_air", sa.Integer(), nullable=False),
        sa.Column("interruptions", sa.Integer(), nullable=False),
        sa.Column("user_share", sa.Float(), nullable=True),
        sa.Column("peak_attention", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.String(512), nullable=False),
        sa.Column("alerts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("call_id", name="pk_call_summaries"),
    )
    op.create_index("ix_call_summaries_ended_at", "call_summaries", ["ended_at"])
    op.create_table(
        "campaign_summaries",
        sa.Column("campaign_id", sa.String(128), nullable=False),
        sa.Column("ended_at", WHEN, nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.Column("successful", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("campaign_id", name="pk_campaign_summaries"),
    )
    op.create_index("ix_campaign_summaries_ended_at", "campaign_summaries", ["ended_at"])


def downgrade() -> None:
    for table in ("campaign_summaries", "call_summaries", "actions", "alerts"):
        op.drop_table(table)
