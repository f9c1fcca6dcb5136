"""The tables, as SQLAlchemy Core metadata: the migrations must build exactly this.

``tests/test_store_migrations.py`` compares this metadata with a database the
migrations built (Alembic's autogenerate finds nothing), on SQLite and PostgreSQL.
Times are stored in UTC and read back as aware datetimes on both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    TypeDecorator,
    UniqueConstraint,
)

# Stable constraint names, so a migration can name what it drops on both dialects.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite numbers rows itself only for an INTEGER primary key; PostgreSQL wants a bigint.
RowId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime in UTC: SQLite keeps no zone, so it is put back when read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the store keeps aware datetimes only")
        moment = value.astimezone(UTC)
        return moment.replace(tzinfo=None) if dialect.name == "sqlite" else moment

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


users = Table(
    "users",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(256), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    # Sessions carry the epoch they began in; a new epoch ends every older session.
    Column("session_epoch", String(64), nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("sha256", String(64), nullable=False, unique=True),  # never the token itself
    Column("role", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime(), nullable=True),
    Column("last_used", UtcDateTime(), nullable=True),
    Column("org", String(32), nullable=False, server_default="default"),  # whose streams
)

embed_links = Table(
    "embed_links",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("ident", String(256), nullable=False),
    Column("instance", String(8), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False, index=True),
    Column("created_by", String(128), nullable=False),
    Column("revoked_at", UtcDateTime(), nullable=True),
    Column("revoked_by", String(128), nullable=False, server_default=""),
    Column("org", String(32), nullable=False, server_default="default"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("who", String(256), nullable=False),
    Column("via", String(16), nullable=False),
    Column("what", String(256), nullable=False),
    Column("route", String(256), nullable=False),
    Column("address", String(256), nullable=False),
    Index("ix_audit_log_at", "at"),
    Column("org", String(32), nullable=False, server_default=""),  # of what was opened
)

# -- organisations (issue 25) ----------------------------------------------------------------

orgs = Table(
    "orgs",
    metadata,
    Column("slug", String(32), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("base_url", String(512), nullable=False),
    Column("sealed_key", String(2048), nullable=False),  # the Burki key, sealed (never clear)
    Column("created_at", UtcDateTime(), nullable=False),
    Column("key_set_at", UtcDateTime(), nullable=False),
)

# A person's role in one organisation ("*": in every one), besides ``users.role``.
user_orgs = Table(
    "user_orgs",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("org", String(32), primary_key=True),
    Column("role", String(16), nullable=False),
)

# -- history (issue 24, second half): what a shift leaves behind -----------------------------
# Only what the dashboard showed people already: redacted excerpts, never a transcript's
# text, never the Burki key. Each row has a natural key, so a record written twice (a
# cluster's holder that died after writing, its successor writing again) is one row.
# Every row belongs to one organisation (``org``, a slug; rows from before there were
# organisations are the default one's) and each natural key includes it: the same call id
# in two organisations is two calls.

alerts = Table(
    "alerts",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("org", String(32), nullable=False, server_default="default"),
    Column("call_id", String(128), nullable=False),
    Column("alert_id", String(64), nullable=False),  # the alert's id, unique within its call
    Column("at", UtcDateTime(), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("message", String(256), nullable=False),
    Column("excerpt", String(256), nullable=False),  # redacted before it was ever shown
    Column("assistant", String(128), nullable=False, server_default=""),
    Column("handled_by", String(128), nullable=True),  # who acknowledged or claimed the call
    Column("handled_how", String(16), nullable=True),  # ack or claim
    Column("handled_at", UtcDateTime(), nullable=True),
    UniqueConstraint("org", "call_id", "alert_id", name="uq_alerts_org_call_id_alert_id"),
)

actions = Table(
    "actions",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("org", String(32), nullable=False, server_default="default"),
    Column("key", String(32), nullable=False),  # a digest of the record
    Column("at", UtcDateTime(), nullable=False, index=True),
    Column("stream", String(192), nullable=False),  # its key: [<org>/]call:<id>, campaign:<id>
    Column("what", String(16), nullable=False),  # end, campaign, claim, ack, release
    Column("outcome", String(16), nullable=False),  # asked, done, failed ("" for claims)
    Column("who", String(128), nullable=False),
    Column("message", String(256), nullable=False),
    UniqueConstraint("org", "key", name="uq_actions_org_key"),
)

call_summaries = Table(
    "call_summaries",
    metadata,
    Column("org", String(32), primary_key=True, server_default="default"),
    Column("call_id", String(128), primary_key=True),
    Column("ended_at", UtcDateTime(), nullable=False, index=True),
    Column("assistant", String(128), nullable=False),
    Column("length", Float(), nullable=True),  # seconds
    Column("latency_median", Float(), nullable=True),
    Column("latency_worst", Float(), nullable=True),
    Column("longest_silence", Float(), nullable=True),
    Column("dead_air", Integer(), nullable=False),  # silences past the warning
    Column("interruptions", Integer(), nullable=False),
    Column("user_share", Float(), nullable=True),  # the caller's share of the talk, 0..1
    Column("peak_attention", Integer(), nullable=False),
    Column("reasons", String(512), nullable=False),  # the peak's reasons, "; "-joined
    Column("alerts", Integer(), nullable=False),
)

campaign_summaries = Table(
    "campaign_summaries",
    metadata,
    Column("org", String(32), primary_key=True, server_default="default"),
    Column("campaign_id", String(128), primary_key=True),
    Column("ended_at", UtcDateTime(), nullable=False, index=True),
    Column("name", String(256), nullable=False),
    Column("status", String(32), nullable=False),
    Column("total", Integer(), nullable=False),
    Column("completed", Integer(), nullable=False),
    Column("successful", Integer(), nullable=False),
    Column("failed", Integer(), nullable=False),
    Column("duration", Float(), nullable=True),  # seconds, as Burki summed them
)
