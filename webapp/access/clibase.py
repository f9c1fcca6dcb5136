"""What every ``burki-dashboard`` admin command shares: its console, its context, its errors,
how it is added to the parser, and how it writes a table or an audit entry."""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TextIO

from sqlalchemy.engine import URL

from webapp.access.audit import AuditLog
from webapp.access.embedlinks import EmbedScope
from webapp.access.tokens import TokenStore
from webapp.access.users import UserStore
from webapp.store.store import Store


class SecretLike(Protocol):
    def get_secret_value(self) -> str: ...


class AdminSettings(Protocol):
    """The settings the admin commands read (``webapp.settings.Settings`` has them)."""

    @property
    def store_url(self) -> URL: ...
    @property
    def database_timeout(self) -> float: ...
    @property
    def dashboard_audit_retention_days(self) -> int: ...
    @property
    def dashboard_session_secret(self) -> SecretLike | None: ...
    @property
    def demo(self) -> bool: ...


# Whether Burki knows the call or campaign a scope names (a REST lookup of the scope's own
# organisation's Burki, with its own key); raises AdminError to say it could not be asked.
# None: there is no Burki to ask (demo mode, no key).
BurkiLookup = Callable[[EmbedScope], Awaitable[bool]]


class AdminError(Exception):
    """A command cannot go on; the message is one line for stderr."""


@dataclass(frozen=True, slots=True)
class Console:
    """Where a command reads and writes; tests pass their own."""

    stdin: TextIO
    stdout: TextIO
    stderr: TextIO
    ask: Callable[[str], str] = getpass.getpass

    def out(self, text: str) -> None:
        print(text, file=self.stdout)

    def note(self, text: str) -> None:
        print(f"burki-dashboard: {text}", file=self.stderr)


@dataclass
class Context:
    """What a command works with: the settings, the console, the store, the Burki lookup."""

    settings: AdminSettings
    console: Console
    store: Store
    burki: BurkiLookup | None = None
    users: UserStore = field(init=False)
    tokens: TokenStore = field(init=False)
    audit: AuditLog = field(init=False)

    def __post_init__(self) -> None:
        self.users = UserStore(self.store)
        self.tokens = TokenStore(self.store)
        self.audit = AuditLog(self.store, self.settings.dashboard_audit_retention_days)


Handler = Callable[[argparse.Namespace, Context], Awaitable[None]]


def leaf(
    group: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help: str,
    handler: Callable[..., Awaitable[Any]],
    slot: str = "admin_handler",
) -> argparse.ArgumentParser:
    """A command of ``group`` whose parsed arguments carry ``handler`` in ``slot``."""
    parser = group.add_parser(name, help=help, description=help)
    parser.set_defaults(**{slot: handler})
    return parser


def operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no user name in this environment
        return "cli"


async def audit(context: Context, what: str, org: str = "") -> None:
    """An audit entry of an embed-link command, of ``org`` ('' for none)."""
    route = "burki-dashboard embed-link"
    await context.audit.record(operator(), "cli", what, route, "local", org=org)


def when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def table(
    console: Console, header: tuple[str, ...], rows: Sequence[tuple[str, ...]], empty: str
) -> None:
    if not rows:
        console.note(empty)
        return
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        console.out(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
