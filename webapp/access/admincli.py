"""The admin commands of ``burki-dashboard``: users, API tokens, embed links, audit export.

``add_admin_commands(subparsers)`` adds ``user``, ``token``, ``embed-link`` and
``audit`` to the main parser; ``run_admin_command(args, settings, burki=...)``
runs the one chosen on the store (:mod:`webapp.store`, its schema brought up
to date first) and returns the exit status: 0, or 2 after one line on
stderr. Passwords are asked twice on the terminal, or read from one line of
standard input with ``--password-stdin`` (for scripts); they never appear in
arguments or output. Embed links are made only for what ``burki`` (a lookup
of Burki's REST, given by the caller) says exists, and the making and revoking
of one is written to the audit log (``via`` cli).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from datetime import UTC, datetime, timedelta

from webapp.access.audit import to_csv
from webapp.access.clibase import (
    AdminError,
    AdminSettings,
    BurkiLookup,
    Console,
    Context,
    Handler,
    leaf,
    table,
    when,
)
from webapp.access.embedcli import add_embed_commands
from webapp.access.embedlinks import EmbedLinkError
from webapp.access.users import EVERY_ORG, Role, StoreError, check_password
from webapp.store.database import one_line
from webapp.store.store import open_store
from webapp.wire.streamkey import DEFAULT_ORG

__all__ = [
    "ADMIN_COMMANDS",
    "AdminError",
    "AdminSettings",
    "BurkiLookup",
    "Console",
    "add_admin_commands",
    "parse_since",
    "run_admin_command",
]

ADMIN_COMMANDS = frozenset({"user", "token", "embed-link", "audit"})
ROLES = [role.value for role in Role]
_AGE = re.compile(r"([0-9]{1,6})([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}


def run_admin_command(
    args: argparse.Namespace,
    settings: AdminSettings,
    console: Console | None = None,
    burki: BurkiLookup | None = None,
) -> int:
    """Run the admin command parsed into ``args``; 0 on success, 2 after a one-line error."""
    console = console or Console(sys.stdin, sys.stdout, sys.stderr)
    handler: Handler | None = getattr(args, "admin_handler", None)
    try:
        if handler is None:
            raise AdminError(f"{args.command}: not an admin command")
        asyncio.run(_run(handler, args, settings, console, burki))
    except (AdminError, StoreError, EmbedLinkError, ValueError) as exc:
        console.note(f"error: {one_line(exc) if isinstance(exc, StoreError) else exc}")
        return 2
    except OSError as exc:
        console.note(f"error: {exc.filename or 'file'}: {exc.strerror}")
        return 2
    return 0


async def _run(
    handler: Handler,
    args: argparse.Namespace,
    settings: AdminSettings,
    console: Console,
    burki: BurkiLookup | None,
) -> None:
    store = await open_store(settings.store_url, settings.database_timeout)
    context = Context(settings, console, store, burki)
    try:
        await handler(args, context)
    finally:
        await context.audit.close()
        await store.close()


def add_admin_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _add_user_commands(subparsers.add_parser("user", help="manage dashboard users"))
    _add_token_commands(subparsers.add_parser("token", help="manage API tokens"))
    add_embed_commands(subparsers.add_parser("embed-link", help="make, list or revoke embed links"))
    _add_audit_commands(subparsers.add_parser("audit", help="export or prune the audit log"))


def _add_user_commands(parser: argparse.ArgumentParser) -> None:
    group = parser.add_subparsers(dest="user_command", required=True)
    add = leaf(group, "add", "add a user (asks for the password)", _user_add)
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--org", default=EVERY_ORG, help="the role's organisation (default: every)")
    add.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    grant = leaf(group, "grant", "give a user a role in one organisation ('*': every)", _grant)
    grant.add_argument("name")
    grant.add_argument("org")
    grant.add_argument("role", choices=ROLES)
    revoke = leaf(group, "revoke", "take a user's role in one organisation away", _revoke)
    revoke.add_argument("name")
    revoke.add_argument("org")
    leaf(group, "remove", "remove a user", _user_remove).add_argument("name")
    passwd = leaf(group, "passwd", "set a user's password", _user_passwd)
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    role = leaf(group, "role", "change a user's role everywhere (ends their sessions)", _user_role)
    role.add_argument("name")
    role.add_argument("--role", required=True, choices=ROLES)
    leaf(group, "list", "list users and roles", _user_list)


def _add_token_commands(parser: argparse.ArgumentParser) -> None:
    group = parser.add_subparsers(dest="token_command", required=True)
    create = leaf(group, "create", "create a token; it is printed once", _token_create)
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--org", default=DEFAULT_ORG, help="the one organisation it opens")
    leaf(group, "list", "list tokens (never the tokens themselves)", _token_list)
    leaf(group, "revoke", "revoke a token for good", _token_revoke).add_argument("name")


def _add_audit_commands(parser: argparse.ArgumentParser) -> None:
    group = parser.add_subparsers(dest="audit_command", required=True)
    export = leaf(group, "export", "write the audit log as CSV to stdout", _audit_export)
    export.add_argument("--since", help="a date (2025-01-31), a time, or an age (7d)")
    leaf(group, "prune", "drop entries older than the retention", _audit_prune)


async def _user_add(args: argparse.Namespace, context: Context) -> None:
    password = _read_password(args, context.console)
    user = await context.users.add(args.name, password, Role(args.role), args.org)
    context.console.out(f"added user {user.name} ({user.roles})")


async def _user_remove(args: argparse.Namespace, context: Context) -> None:
    await context.users.remove(args.name)
    context.console.out(f"removed user {args.name.casefold()}")


async def _user_passwd(args: argparse.Namespace, context: Context) -> None:
    if await context.users.get(args.name) is None:  # before asking for a password in vain
        raise AdminError(f"no user {args.name.casefold()!r}")
    await context.users.set_password(args.name, _read_password(args, context.console))
    context.console.out(f"changed the password of {args.name.casefold()}")


async def _user_role(args: argparse.Namespace, context: Context) -> None:
    user = await context.users.set_role(args.name, Role(args.role))
    context.console.out(f"{user.name} is now {user.roles}; their sessions have ended")


async def _grant(args: argparse.Namespace, context: Context) -> None:
    user = await context.users.grant(args.name, args.org, Role(args.role))
    context.console.out(f"{user.name} is now {user.roles} (from their next request)")


async def _revoke(args: argparse.Namespace, context: Context) -> None:
    user = await context.users.revoke(args.name, args.org)
    context.console.out(f"{user.name} is now {user.roles} (their open streams end soon)")


async def _user_list(args: argparse.Namespace, context: Context) -> None:
    rows = [(u.name, str(u.roles), when(u.created_at)) for u in await context.users.list()]
    table(context.console, ("NAME", "ROLE", "CREATED"), rows, empty="no users")


async def _token_create(args: argparse.Namespace, context: Context) -> None:
    token = await context.tokens.create(args.name, Role(args.role), args.org)
    context.console.note(
        "this token is shown once: store it now (the dashboard keeps only its hash)"
    )
    context.console.out(token)


async def _token_list(args: argparse.Namespace, context: Context) -> None:
    rows = [
        (
            info.name,
            info.role.value,
            info.org,
            when(info.created_at),
            when(info.last_used) if info.last_used else "never",
            "revoked" if info.revoked else "active",
        )
        for info in await context.tokens.list()
    ]
    header = ("NAME", "ROLE", "ORG", "CREATED", "LAST USED", "STATUS")
    table(context.console, header, rows, empty="no tokens")


async def _token_revoke(args: argparse.Namespace, context: Context) -> None:
    await context.tokens.revoke(args.name)
    context.console.out(f"revoked token {args.name.casefold()}")


async def _audit_export(args: argparse.Namespace, context: Context) -> None:
    since = parse_since(args.since) if args.since else None
    context.console.stdout.write(to_csv(await context.audit.entries(limit=None, since=since)))


async def _audit_prune(args: argparse.Namespace, context: Context) -> None:
    removed = await context.audit.prune()
    days = context.settings.dashboard_audit_retention_days
    context.console.out(f"removed {removed} entries older than {days} days")


def _read_password(args: argparse.Namespace, console: Console) -> str:
    if args.password_stdin:
        password = console.stdin.readline().rstrip("\r\n")
        check_password(password)
        return password
    if not console.stdin.isatty():
        raise AdminError("no terminal to ask for the password: use --password-stdin")
    password = console.ask("Password: ")
    check_password(password)
    if console.ask("Repeat the password: ") != password:
        raise AdminError("the two passwords differ")
    return password


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """An aware UTC datetime from an ISO date or time (UTC if no zone) or an age like ``7d``."""
    match = _AGE.fullmatch(text.strip().lower())
    if match:
        age = timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
        return (now or datetime.now(UTC)) - age
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--since is a date, a time or an age like 7d, not {text[:32]!r}"
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when
