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
    Index,
    Integer,
    MetaData,
    String,
    Table,
    TypeDecorator,
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
)
