"""The admin commands of ``burki-dashboard``: users, API tokens, embed links, audit export.

``add_admin_commands(subparsers)`` adds ``user``, ``token``, ``embed-link`` and
``audit`` to the main parser; ``run_admin_command(args, settings, burki=...)``
runs the one chosen and returns the exit status: 0, or 2 after one line on
stderr. Passwords are asked twice on the terminal, or read from one line of
standard input with ``--password-stdin`` (for scripts); they never appear in
arguments or output. Embed links are made only for what ``burki`` (a lookup
of Burki's REST, given by the caller) says exists, and the making and revoking
of one is written to the audit log (``via`` cli).
"""

from __future__ import annotations

import argparse
import getpass
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol, TextIO

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
from webapp.access.embedstore import TomlEmbedLinks
from webapp.access.sessions import Instance
from webapp.access.tokens import TokenStore
from webapp.access.users import Role, StoreError, UserStore, check_password

ADMIN_COMMANDS = frozenset({"user", "token", "embed-link", "audit"})
ROLES = [role.value for role in Role]
_AGE = re.compile(r"([0-9]{1,6})([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}


class SecretLike(Protocol):
    def get_secret_value(self) -> str: ...


class AdminSettings(Protocol):
    """The settings the admin commands read (``webapp.settings.Settings`` has them)."""

    @property
    def dashboard_users_file(self) -> Path: ...
    @property
    def dashboard_tokens_file(self) -> Path: ...
    @property
    def dashboard_audit_file(self) -> Path: ...
    @property
    def dashboard_audit_retention_days(self) -> int: ...
    @property
    def dashboard_session_secret(self) -> SecretLike | None: ...
    @property
    def embed_links_file(self) -> Path: ...
    @property
    def demo(self) -> bool: ...


# Whether Burki knows the call or campaign a scope names (a REST lookup); raises to say
# it could not be asked. None: there is no Burki to ask (demo mode, no key).
BurkiLookup = Callable[[EmbedScope], bool]


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


@dataclass(frozen=True, slots=True)
class Context:
    """What a command works with: the settings, the console, the Burki lookup."""

    settings: AdminSettings
    console: Console
    burki: BurkiLookup | None = None


Handler = Callable[[argparse.Namespace, AdminSettings, Console], None]
ContextHandler = Callable[[argparse.Namespace, Context], None]


def run_admin_command(
    args: argparse.Namespace,
    settings: AdminSettings,
    console: Console | None = None,
    burki: BurkiLookup | None = None,
) -> int:
    """Run the admin command parsed into ``args``; 0 on success, 2 after a one-line error."""
    console = console or Console(sys.stdin, sys.stdout, sys.stderr)
    handler: Handler | None = getattr(args, "admin_handler", None)
    with_context: ContextHandler | None = getattr(args, "context_handler", None)
    try:
        if with_context is not None:
            with_context(args, Context(settings, console, burki))
        elif handler is None:
            raise AdminError(f"{args.command}: not an admin command")
        else:
            handler(args, settings, console)
    except (AdminError, StoreError, EmbedLinkError, ValueError) as exc:
        console.note(f"error: {exc}")
        return 2
    except OSError as exc:
        console.note(f"error: {exc.filename or 'file'}: {exc.strerror}")
        return 2
    return 0


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
    add.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    _leaf(group, "remove", "remove a user", _user_remove).add_argument("name")
    passwd = _leaf(group, "passwd", "set a user's password", _user_passwd)
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    role = _leaf(group, "role", "change a user's role (ends their sessions)", _user_role)
    role.add_argument("name")
    role.add_argument("--role", required=True, choices=ROLES)
    _leaf(group, "list", "list users and roles", _user_list)


def _add_token_commands(parser: argparse.ArgumentParser) -> None:
    group = parser.add_subparsers(dest="token_command", required=True)
    create = _leaf(group, "create", "create a token; it is printed once", _token_create)
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True, choices=ROLES)
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
    listing.set_defaults(context_handler=_embed_list)
    revoke = group.add_parser("revoke", help="revoke an embed link on every node")
    revoke.add_argument("id", help="the link's id, as listed")
    revoke.set_defaults(context_handler=_embed_revoke)


def _embed_options(parser: argparse.ArgumentParser, kind: str) -> None:
    parser.set_defaults(context_handler=_embed_link, kind=kind or "wallboard")
    parser.add_argument("--ttl", default="8h", help="lifetime: 90s, 30m, 8h, 2d (at most 30d)")
    parser.add_argument("--base-url", default="", help="e.g. https://live.example.com")


def _add_audit_commands(parser: argparse.ArgumentParser) -> None:
    group = parser.add_subparsers(dest="audit_command", required=True)
    export = _leaf(group, "export", "write the audit log as CSV to stdout", _audit_export)
    export.add_argument("--since", help="a date (2025-01-31), a time, or an age (7d)")
    _leaf(group, "prune", "drop entries older than the retention", _audit_prune)


def _user_add(args: argparse.Namespace, settings: AdminSettings, console: Console) -> None:
    password = _read_password(args, console)
    user = UserStore(settings.dashboard_users_file).add(args.name, password, Role(args.role))
    console.out(f"added user {user.name} ({user.role})")


def _user_remove(args: argparse.Namespace, settings: AdminSettings, console: Console) -> None:
    UserStore(settings.dashboard_users_file).remove(args.name)
    console.out(f"removed user {args.name.casefold()}")


def _user_passwd(args: argparse.Namespace, settings: AdminSettings, console: Console) -> None:
    store = UserStore(settings.dashboard_users_file)
    if store.get(args.name) is None:  # before asking for a password in vain
        raise AdminError(f"no user {args.name.casefold()!r}")
    store.set_password(args.name, _read_password(args, console))
    console.out(f"changed the password of {args.name.casefold()}")


def _user_role(args: argparse.Namespace, settings: AdminSettings, console: Console) -> None:
    user = UserStore(settings.dashboard_users_file).set_role(args.name, Role(args.role))
    console.out(f"{user.name} is now {user.role}; their sessions have ended")


def _user_list(args: argparse.Namespace, settings: AdminSettings, console: Console) -> None:
    rows = [
        (u.name, u.role.value, _when(u.created_at))
        for u in UserStore(settings.dashboard_users_file).list()
    ]
    _table(console, ("NAME", "ROLE", "CREATED"), rows, empty="no users")


def _token_create(args: argparse.Namespace, settings: AdminSettings, console: Console) -> None:
    token = TokenStore(settings.dashboard_tokens_file).create(args.name, Role(args.role))
    console.note("this token is shown once: store it now (the dashboard keeps only its hash)")
    console.out(token)


def _token_list(args: argparse.Namespace, settings: AdminSettings, console: Console) -> None:
    rows = [
        (
            info.name,
            info.role.value,
            _when(info.created_at),
            _when(info.last_used) if info.last_used else "never",
            "revoked" if info.revoked else "active",
        )
        for info in TokenStore(settings.dashboard_tokens_file).list()
    ]
    _table(console, ("NAME", "ROLE", "CREATED", "LAST USED", "STATUS"), rows, empty="no tokens")


def _token_revoke(args: argparse.Namespace, settings: AdminSettings, console: Console) -> None:
    TokenStore(settings.dashboard_tokens_file).revoke(args.name)
    console.out(f"revoked token {args.name.casefold()}")


def _embed_links(settings: AdminSettings) -> EmbedLinks:
    if settings.dashboard_session_secret is None:
        raise AdminError("DASHBOARD_SESSION_SECRET is not set: embed links are signed with it")
    instance: Instance = "demo" if settings.demo else "live"
    signer = EmbedSigner(settings.dashboard_session_secret.get_secret_value(), instance)
    return EmbedLinks(signer, TomlEmbedLinks(settings.embed_links_file))


def _embed_link(args: argparse.Namespace, context: Context) -> None:
    settings, console = context.settings, context.console
    links = _embed_links(settings)
    scope = embed_scope(args.kind, getattr(args, "ident", WALLBOARD))
    ttl = parse_ttl(args.ttl)
    if scope.kind != "wallboard":
        if context.burki is None:
            raise AdminError(
                "there is no Burki to ask whether it exists (demo mode): "
                "make demo links on the admin page"
            )
        if not context.burki(scope):
            raise AdminError(f"Burki has no {scope.kind} {scope.ident}: no link was made")
    made = links.mint(scope.kind, scope.ident, ttl, _operator())
    console.out(made.url(args.base_url))
    console.note(
        f"link {made.record.id} opens only {scope} and expires {_when(made.record.expires_at)}"
    )
    _audit(settings, f"embed link {made.record.id} made for {scope}")


def _embed_list(args: argparse.Namespace, context: Context) -> None:
    now = datetime.now(UTC)
    rows = [
        (
            link.id,
            link.scope + (" (demo)" if link.instance == "demo" else ""),
            link.created_by,
            _when(link.expires_at),
            link.state(now),
        )
        for link in _embed_links(context.settings).list()
    ]
    header = ("ID", "OPENS", "MADE BY", "EXPIRES", "STATE")
    _table(context.console, header, rows, empty="no embed links")


def _embed_revoke(args: argparse.Namespace, context: Context) -> None:
    done = _embed_links(context.settings).revoke(args.id, _operator())
    context.console.out(f"revoked embed link {done.id} ({done.scope})")
    _audit(context.settings, f"embed link {done.id} revoked ({done.scope})")


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no user name in this environment
        return "cli"


def _audit(settings: AdminSettings, what: str) -> None:
    log = AuditLog(settings.dashboard_audit_file, settings.dashboard_audit_retention_days)
    log.record(_operator(), "cli", what, "burki-dashboard embed-link", "local")


def _audit_export(args: argparse.Namespace, settings: AdminSettings, console: Console) -> None:
    since = parse_since(args.since) if args.since else None
    log = AuditLog(settings.dashboard_audit_file, settings.dashboard_audit_retention_days)
    console.stdout.write(to_csv(log.entries(limit=None, since=since)))


def _audit_prune(args: argparse.Namespace, settings: AdminSettings, console: Console) -> None:
    removed = AuditLog(
        settings.dashboard_audit_file, settings.dashboard_audit_retention_days
    ).prune()
    console.out(
        f"removed {removed} entries older than {settings.dashboard_audit_retention_days} days"
    )


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
