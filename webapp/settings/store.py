"""The store (issue 24): the one database of users, tokens, embed links, the audit log and
the history, and how long the history is kept."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from sqlalchemy.engine import URL

from webapp.store.database import database_url, sqlite_url

from .base import Area


class StoreSettings(Area):
    database_url: SecretStr | None = Field(
        None,
        description="PostgreSQL of the dashboard's store (postgresql://user:password@host/db), "
        "what a cluster's nodes share. Unset: a SQLite file (DASHBOARD_DATABASE_FILE).",
    )
    dashboard_database_file: Path = Field(
        Path("var/burki-live.sqlite3"),
        description="The SQLite file of the store when DATABASE_URL is unset (created 0600).",
    )
    database_timeout: float = Field(
        5.0,
        gt=0,
        le=60,
        description="Seconds to wait for the database (connect, statement) before it counts "
        "as unreachable.",
    )

    # -- the history: alerts, actions and summaries kept in the database -------------------
    history_alert_days: int = Field(
        90, ge=1, description="Days the history keeps alerts (who handled them too)."
    )
    history_action_days: int = Field(
        90, ge=1, description="Days the history keeps people's actions (ended, claimed, ...)."
    )
    history_summary_days: int = Field(
        365, ge=1, description="Days the history keeps the summary of each ended call and campaign."
    )
    history_queue: int = Field(
        10_000,
        ge=100,
        le=1_000_000,
        description="Records (alerts, actions, summaries) held in memory while the database "
        "is unreachable; past that, new ones are dropped and logged.",
    )

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            database_url(value.get_secret_value())  # ValueError, one line, no password
        return value

    @property
    def store_url(self) -> URL:
        """The store's database: DATABASE_URL, or the SQLite file."""
        if self.database_url is not None:
            return database_url(self.database_url.get_secret_value())
        return sqlite_url(self.dashboard_database_file)
