"""The engine: which database, how long to wait for it, and what its failures mean.

``DATABASE_URL`` names PostgreSQL (``postgresql://user:pass@host/db``; the
``asyncpg`` driver is filled in) or SQLite (``sqlite:///path``); unset, the
dashboard keeps a SQLite file under ``var/``. Every wait is bounded by
``timeout`` seconds (connect, statement, a connection from the pool), so an
unreachable database is an error in seconds, never a hang.

Failures are sorted once, here: :class:`StoreUnavailable` (the database
cannot be reached or stopped answering: retry later, say 503) and
:class:`StoreConflict` (a row with that key exists). Messages are one line and
never show the URL's password.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


class StoreError(Exception):
    """The store refused or failed an operation; the message is one line, without secrets."""


class StoreUnavailable(StoreError):
    """The database cannot be reached (or stopped answering) right now.

    ``str()`` is a sentence fit for anyone (a page, an API answer); ``detail``
    names the database (password hidden) and the cause, for logs and the CLI.
    """

    def __init__(self, detail: str) -> None:
        super().__init__("the dashboard's database is unreachable; try again in a minute")
        self.detail = detail


class StoreConflict(StoreError):
    """A record with that key exists already."""


def database_url(text: str) -> URL:
    """The URL with its async driver: ``postgres://`` and ``postgresql://`` -> asyncpg,
    ``sqlite://`` -> aiosqlite. ValueError for anything else (the message hides passwords)."""
    try:
        url = make_url(text.strip())
    except sa_exc.ArgumentError:
        raise ValueError("not a database URL (postgresql://... or sqlite:///...)") from None
    backend = "postgresql" if url.get_backend_name() == "postgres" else url.get_backend_name()
    if backend not in DRIVERS:
        raise ValueError(f"{backend!r} is not supported: use postgresql:// or sqlite:///")
    driver = url.drivername.partition("+")[2]
    if driver not in ("", "asyncpg", "aiosqlite"):
        raise ValueError(f"the {driver!r} driver is not supported: leave it out of the URL")
    return url.set(drivername=DRIVERS[backend])


def sqlite_url(path: Path) -> URL:
    return URL.create("sqlite+aiosqlite", database=str(path))


def shown(url: URL) -> str:
    """The URL for a log line or an error: the password hidden."""
    return url.render_as_string(hide_password=True)


# The drivers log every statement with its parameters (aiosqlite at DEBUG, SQLAlchemy's
# engine at INFO once its logger lets it): an alert's excerpt is a caller's words and a row
# may hold a password hash. A filter on the loggers that write those lines drops everything
# below a warning, whatever level an operator (or a debugging session) sets them to.
QUIET_LOGGERS = ("aiosqlite", "sqlalchemy.engine.Engine", "asyncpg")


class _WarningsOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


_WARNINGS_ONLY = _WarningsOnly()


def quiet_drivers() -> None:
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if _WARNINGS_ONLY not in logger.filters:
            logger.addFilter(_WARNINGS_ONLY)


def make_engine(url: URL, timeout: float) -> AsyncEngine:
    """An engine whose every wait is bounded by ``timeout`` seconds (its drivers quiet)."""
    quiet_drivers()
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            _private_file(Path(url.database))
        engine = create_async_engine(url, connect_args={"timeout": timeout})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url,
        pool_pre_ping=True,  # a connection the server dropped is found before it is used
        pool_size=5,
        max_overflow=10,
        pool_timeout=timeout,
        connect_args={"timeout": timeout, "command_timeout": timeout},
    )


def _private_file(path: Path) -> None:
    """Create the SQLite file 0600 in a 0700 folder: it holds password hashes."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers never wait for the writer (the CLI may write while the server reads).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database is out of reach (as opposed to a bad request)."""
    if isinstance(exc, sa_exc.IntegrityError | sa_exc.ProgrammingError | sa_exc.DataError):
        return False
    return isinstance(exc, sa_exc.DBAPIError | sa_exc.TimeoutError | OSError | asyncio.TimeoutError)


@asynccontextmanager
async def guarded(url: URL) -> AsyncIterator[None]:
    """Turn the driver's failures into StoreUnavailable or StoreConflict (one line each)."""
    try:
        yield
    except sa_exc.IntegrityError:
        raise StoreConflict("a record with that name exists already") from None
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        raise StoreUnavailable(unreachable(url, exc)) from None


def one_line(exc: StoreError) -> str:
    """The line for a log or the CLI: what went wrong, and where."""
    return exc.detail if isinstance(exc, StoreUnavailable) else str(exc)


def unreachable(url: URL, exc: BaseException) -> str:
    return f"the database {shown(url)} is unreachable ({_cause(exc)})"


def _cause(exc: BaseException) -> str:
    inner = getattr(exc, "orig", None) or exc.__cause__ or exc
    text = " ".join(str(inner).split())[:160]
    return f"{type(inner).__name__}: {text}" if text else type(inner).__name__


@asynccontextmanager
async def transaction(engine: AsyncEngine, url: URL) -> AsyncIterator[AsyncConnection]:
    """One transaction, committed at the end; failures sorted as :func:`guarded` says."""
    async with guarded(url), engine.begin() as conn:
        yield conn


@dataclass(frozen=True)
class Database:
    """An engine and the URL it was made from (for messages: :func:`shown`)."""

    engine: AsyncEngine
    url: URL

    def begin(self) -> AbstractAsyncContextManager[AsyncConnection]:
        return transaction(self.engine, self.url)

    def __repr__(self) -> str:
        return f"Database({shown(self.url)!r})"
