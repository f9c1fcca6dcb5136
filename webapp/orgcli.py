"""``burki-dashboard org add|list|remove|rotate-key|rewrap``: the org book from a shell.

A Burki key is asked on the terminal (not echoed) or read from one line of standard
input with ``--key-stdin``; never from the arguments, which sit in the shell's history
and in ``ps``. It is confirmed masked (its last 4 characters) and never printed again.
Every change is written to the audit log (``via`` cli). A server running on the same
store picks the change up within ``ORG_REFRESH_SECONDS`` (docs/organisations.md); with
``REDIS_URL`` set, the cluster's nodes are told to read the book at once.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from webapp.access.audit import AuditLog
from webapp.access.clibase import AdminError, Console, leaf, operator
from webapp.cluster.booknews import BookNews
from webapp.cluster.startup import node_id
from webapp.orgparts import rest_client
from webapp.orgs.book import OrgBook, checked_key
from webapp.orgs.model import OrgError
from webapp.orgs.sealing import MasterKeyError
from webapp.settings import Settings
from webapp.store.database import StoreError, one_line
from webapp.store.store import Store, open_store
from webapp.wire.rest import BurkiRest

# What a command did, for the audit log (None: nothing to note), and of which organisation.
Handler = Callable[[argparse.Namespace, OrgBook, Console], Awaitable[str | None]]


class OrgCommandError(Exception):
    """The command cannot go on; one line for stderr."""


def add_org_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("org", help="manage the Burki organisations and their keys")
    group = parser.add_subparsers(dest="org_command", required=True)
    add = _leaf(group, "add", "add an organisation (asks for its Burki key)", _add)
    add.add_argument("slug", help="a short name for URLs: lower case, digits, dashes")
    add.add_argument("--name", required=True, help="the name people see")
    add.add_argument("--url", required=True, help="its Burki base URL (https://...)")
    add.add_argument("--key-stdin", action="store_true", help="read the key from stdin")
    _leaf(group, "list", "list organisations (never their keys)", _list)
    _leaf(group, "remove", "remove an organisation and its key", _remove).add_argument("slug")
    rotate = _leaf(group, "rotate-key", "set a new Burki key for an organisation", _rotate)
    rotate.add_argument("slug")
    rotate.add_argument("--key-stdin", action="store_true", help="read the key from stdin")
    _leaf(group, "rewrap", "seal every key again under the newest BURKI_MASTER_KEY", _rewrap)


def _leaf(
    group: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help: str,
    handler: Handler,
) -> argparse.ArgumentParser:
    return leaf(group, name, help, handler, slot="org_handler")


def run_org_command(
    args: argparse.Namespace, settings: Settings, console: Console | None = None
) -> int:
    """Run the ``org`` command in ``args``; 0, or 2 after one line on stderr."""
    console = console or Console(sys.stdin, sys.stdout, sys.stderr)
    try:
        asyncio.run(_run(args, settings, console))
    except (OrgCommandError, OrgError, MasterKeyError) as exc:
        console.note(f"error: {exc}")
        return 2
    except StoreError as exc:
        console.note(f"error: {one_line(exc)}")
        return 2
    return 0


async def _run(args: argparse.Namespace, settings: Settings, console: Console) -> None:
    store = await open_store(settings.store_url, settings.database_timeout)
    audit = AuditLog(store, settings.dashboard_audit_retention_days)
    try:
        done = await args.org_handler(args, book_of(settings, store), console)
        if done is not None:
            route = f"burki-dashboard org {args.org_command}"
            org = getattr(args, "slug", "") or ""
            await audit.record(operator(), "cli", done, route, "local", org=org)
            await tell_nodes(settings)
    finally:
        await audit.close()
        await store.close()


async def tell_nodes(settings: Settings) -> None:
    """Tell a cluster's running nodes the book changed (none: they read it at their next
    refresh; Redis away: the same, logged)."""
    if settings.redis_url is None:
        return
    news = BookNews.connect(settings.redis_url.get_secret_value(), f"cli-{node_id('')}")
    try:
        await news.tell()
    finally:
        await news.close()


def book_of(settings: Settings, store: Store) -> OrgBook:
    return OrgBook(store.orgs, settings.master_key, allow_insecure=settings.burki_allow_insecure)


@asynccontextmanager
async def org_rest(settings: Settings, slug: str) -> AsyncIterator[BurkiRest]:
    """A REST client of organisation ``slug`` of the org book: its own Burki URL and key,
    opened with the master key for this one client (an embed link's lookup). AdminError (one
    line, never a key) when there is no such organisation or its key cannot be opened."""
    store = await open_store(settings.store_url, settings.database_timeout)
    try:
        row = await store.orgs.get(slug)
    finally:
        await store.close()
    if row is None:
        raise AdminError(f"there is no organisation {slug!r} (burki-dashboard org list)")
    try:
        key = book_of(settings, store).require_master().open(slug, row.sealed_key)
    except MasterKeyError as exc:
        raise AdminError(f"organisation {slug}: {exc}") from None
    async with rest_client(settings, row.base_url, key) as rest:
        yield rest


def read_key(args: argparse.Namespace, console: Console) -> str:
    """The Burki key from one line of stdin (``--key-stdin``) or asked, not echoed."""
    if args.key_stdin:
        return checked_key(console.stdin.readline())
    if not console.stdin.isatty():
        raise OrgCommandError("no terminal to ask for the Burki key: use --key-stdin")
    return checked_key(console.ask("Burki API key (not shown): "))


async def _add(args: argparse.Namespace, book: OrgBook, console: Console) -> str:
    book.require_master()  # before asking for a key in vain
    org, shown = await book.add(args.slug, args.name, args.url, read_key(args, console))
    console.out(f"added organisation {org.slug} ({org.name}, {org.base_url}); key {shown}")
    console.note("the key is shown only masked, and never again")
    return f"organisation {org.slug} added"


async def _list(args: argparse.Namespace, book: OrgBook, console: Console) -> None:
    rows = [
        (
            each.org.slug,
            each.org.name,
            each.org.base_url,
            _when(each.key_set_at),
            each.fingerprint,
        )
        for each in await book.listed()
    ]
    if not rows:
        console.note("no organisations (BURKI_API_KEY's, if set, is the default one)")
        return None
    header = ("SLUG", "NAME", "URL", "KEY SET", "FINGERPRINT")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        console.out("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return None


async def _remove(args: argparse.Namespace, book: OrgBook, console: Console) -> str:
    await book.remove(args.slug)
    console.out(f"removed organisation {args.slug} and its key")
    return f"organisation {args.slug} removed"


async def _rotate(args: argparse.Namespace, book: OrgBook, console: Console) -> str:
    if await book.rows.get(args.slug) is None:  # before asking for a key in vain
        raise OrgCommandError(f"there is no organisation {args.slug!r}")
    shown = await book.rotate_key(args.slug, read_key(args, console))
    console.out(f"organisation {args.slug} has a new key {shown}")
    return f"organisation {args.slug} key rotated"


async def _rewrap(args: argparse.Namespace, book: OrgBook, console: Console) -> str:
    count = await book.rewrap()
    console.out(f"{count} key(s) sealed again under the newest master key")
    return f"organisation keys rewrapped ({count})"


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "-"
