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
import getpass
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol, TextIO

from sqlalchemy.engine import URL

from webapp.access.audit import AuditLog, to_csv
from webapp.access.embedlinks import (
    WALLBOARD,
    EmbedLinkError,
    EmbedLinks,
    EmbedScope,
    EmbedSigner,
    embed_scope,
    parse_ttl,
)
from webapp.access.embedstore import StoredEmbedLinks
from webapp.access.sessions import Instance
from webapp.access.tokens import TokenStore
from webapp.access.users import EVERY_ORG, Role, StoreError, UserStore, check_password
from webapp.store.database import one_line
from webapp.store.store import Store, open_store
from webapp.wire.streamkey import DEFAULT_ORG

ADMIN_COMMANDS = frozenset({"user", "token", "embed-link", "audit"})
ROLES = [role.value for role in Role]
_AGE = re.compile(r"([0-9]{1,6})([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}


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


# Whether Burki knows the call or campaign a scope names (a REST lookup); raises to say
# it could not be asked. None: there is no Burki to ask (demo mode, no key).
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
    _add_embed_commands(
        subparsers.add_parser("embed-link", help="make, list or revoke embed links")
    )
    _add_audit_commands(subparsers.add_parser("audit", help="export or prune the audit log"))


def _leaf(
    group: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help: str,
    handler: Handler,
) -> argparse.ArgumentParser:
    parser = group.add_parser(name, help=help, description=help)
    parser.set_defaults(admin_handler=handler)
    return parser


def _add_user_commands(parser: argparse.ArgumentParser) -> None:
    group = parser.add_subparsers(dest="user_command", required=True)
    add = _leaf(group, "add", "add a user (asks for the password)", _user_add)
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--org", default=EVERY_ORG, help="the role's organisation (default: every)")
    add.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    grant = _leaf(group, "grant", "give a user a role in one organisation ('*': every)", _grant)
    grant.add_argument("name")
    grant.add_argument("org")
    grant.add_argument("role", choices=ROLES)
    revoke = _leaf(group, "revoke", "take a user's role in one organisation away", _revoke)
    revoke.add_argument("name")
    revoke.add_argument("org")
    _leaf(group, "remove", "remove a user", _user_remove).add_argument("name")
    passwd = _leaf(group, "passwd", "set a user's password", _user_passwd)
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    role = _leaf(group, "role", "change a user's role everywhere (ends their sessions)", _user_role)
    role.add_argument("name")
    role.add_argument("--role", required=True, choices=ROLES)
    _leaf(group, "list", "list users and roles", _user_list)


def _add_token_commands(parser: argparse.ArgumentParser) -> None:
    group = parser.add_subparsers(dest="token_command", required=True)
    create = _leaf(group, "create", "create a token; it is printed once", _token_create)
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--org", default=DEFAULT_ORG, help="the one organisation it opens")
    _leaf(group, "list", "list tokens (never the tokens themselves)", _token_list)
    _leaf(group, "revoke", "revoke a token for good", _token_revoke).add_argument("name")


def _add_embed_commands(parser: argparse.ArgumentParser) -> None:
    group = parser.add_subparsers(dest="embed_command", required=True)
    for kind, what in [("call", "the call SID"), ("campaign", "the campaign id")]:
        make = group.add_parser(kind, help=f"print a link to one {kind} Burki knows")
        make.add_argument("ident", help=what)
        _embed_options(make, kind)
    _embed_options(group.add_parser("wallboard", help="print a link to the wallboard"), "")
    listing = group.add_parser("list", help="list embed links (never their tokens)")
    listing.set_defaults(admin_handler=_embed_list)
    revoke = group.add_parser("revoke", help="revoke an embed link on every node")
    revoke.add_argument("id", help="the link's id, as listed")
    revoke.set_defaults(admin_handler=_embed_revoke)


def _embed_options(parser: argparse.ArgumentParser, kind: str) -> None:
    parser.set_defaults(admin_handler=_embed_link, kind=kind or "wallboard")
    parser.add_argument("--ttl", default="8h", help="lifetime: 90s, 30m, 8h, 2d (at most 30d)")
    parser.add_argument("--base-url", default="", help="e.g. https://live.example.com")


def _add_audit_commands(parser: argparse.ArgumentParser) -> None:
    group = parser.add_subparsers(dest="audit_command", required=True)
    export = _leaf(group, "export", "write the audit log as CSV to stdout", _audit_export)
    export.add_argument("--since", help="a date (2025-01-31), a time, or an age (7d)")
    _leaf(group, "prune", "drop entries older than the retention", _audit_prune)


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
    rows = [(u.name, str(u.roles), _when(u.created_at)) for u in await context.users.list()]
    _table(context.console, ("NAME", "ROLE", "CREATED"), rows, empty="no users")


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
            _when(info.created_at),
            _when(info.last_used) if info.last_used else "never",
            "revoked" if info.revoked else "active",
        )
        for info in await context.tokens.list()
    ]
    header = ("NAME", "ROLE", "ORG", "CREATED", "LAST USED", "STATUS")
    _table(context.console, header, rows, empty="no tokens")


async def _token_revoke(args: argparse.Namespace, context: Context) -> None:
    await context.tokens.revoke(args.name)
    context.console.out(f"revoked token {args.name.casefold()}")


def _embed_links(context: Context) -> EmbedLinks:
    settings = context.settings
    if settings.dashboard_session_secret is None:
        raise AdminError("DASHBOARD_SESSION_SECRET is not set: embed links are signed with it")
    instance: Instance = "demo" if settings.demo else "live"
    signer = EmbedSigner(settings.dashboard_session_secret.get_secret_value(), instance)
    return EmbedLinks(signer, StoredEmbedLinks(context.store))


async def _embed_link(args: argparse.Namespace, context: Context) -> None:
    console = context.console
    links = _embed_links(context)
    scope = embed_scope(args.kind, getattr(args, "ident", WALLBOARD))
    ttl = parse_ttl(args.ttl)
    if scope.kind != "wallboard":
        if context.burki is None:
            raise AdminError(
                "there is no Burki to ask whether it exists (demo mode): "
                "make demo links on the admin page"
            )
        if not await context.burki(scope):
            raise AdminError(f"Burki has no {scope.kind} {scope.ident}: no link was made")
    made = await links.mint(scope.kind, scope.ident, ttl, _operator())
    console.out(made.url(args.base_url))
    console.note(
        f"link {made.record.id} opens only {scope} and expires {_when(made.record.expires_at)}"
    )
    await _audit(context, f"embed link {made.record.id} made for {scope}")


async def _embed_list(args: argparse.Namespace, context: Context) -> None:
    now = datetime.now(UTC)
    rows = [
        (
            link.id,
            link.scope + (" (demo)" if link.instance == "demo" else ""),
            link.created_by,
            _when(link.expires_at),
            link.state(now),
        )
        for link in await _embed_links(context).list()
    ]
    header = ("ID", "OPENS", "MADE BY", "EXPIRES", "STATE")
    _table(context.console, header, rows, empty="no embed links")


async def _embed_revoke(args: argparse.Namespace, context: Context) -> None:
    done = await _embed_links(context).revoke(args.id, _operator())
    context.console.out(f"revoked embed link {done.id} ({done.scope})")
    await _audit(context, f"embed link {done.id} revoked ({done.scope})")


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no user name in this environment
        return "cli"


async def _audit(context: Context, what: str) -> None:
    await context.audit.record(_operator(), "cli", what, "burki-dashboard embed-link", "local")


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


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _table(
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
