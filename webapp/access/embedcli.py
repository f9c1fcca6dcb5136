"""``burki-dashboard embed-link call|campaign|wallboard|list|revoke``: embed links from a shell.

A link belongs to one organisation (``--org SLUG``; the default one without it) and is
made only for an organisation of the store's org book (or the default one) and for what
the caller's Burki lookup, asked with that organisation's own key, says exists; making and
revoking one is written to the audit log (``via`` cli) under its organisation.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from webapp.access.clibase import AdminError, Context, audit, operator, table, when
from webapp.access.embedlinks import WALLBOARD, EmbedLinks, EmbedSigner, embed_scope, parse_ttl
from webapp.access.embedstore import StoredEmbedLinks
from webapp.access.sessions import Instance
from webapp.wire.streamkey import DEFAULT_ORG


def add_embed_commands(parser: argparse.ArgumentParser) -> None:
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
    parser.add_argument(
        "--org", default=DEFAULT_ORG, help="the organisation it belongs to (default: the default)"
    )


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
    scope = embed_scope(args.kind, getattr(args, "ident", WALLBOARD), args.org)
    ttl = parse_ttl(args.ttl)
    await _org_exists(context, scope.org)
    if scope.kind != "wallboard":
        if context.burki is None:
            raise AdminError(
                "there is no Burki to ask whether it exists (demo mode): "
                "make demo links on the admin page"
            )
        if not await context.burki(scope):
            raise AdminError(f"Burki has no {scope.kind} {scope.ident}: no link was made")
    made = await links.mint(scope.kind, scope.ident, ttl, operator(), scope.org)
    console.out(made.url(args.base_url))
    console.note(
        f"link {made.record.id} opens only {scope} and expires {when(made.record.expires_at)}"
    )
    await audit(context, f"embed link {made.record.id} made for {scope}", scope.org)


async def _org_exists(context: Context, org: str) -> None:
    """AdminError unless ``org`` is the default organisation or one of the org book's, before
    anything is asked of any Burki."""
    if org != DEFAULT_ORG and await context.store.orgs.get(org) is None:
        raise AdminError(
            f"there is no organisation {org!r} (burki-dashboard org list): no link was made"
        )


async def _embed_list(args: argparse.Namespace, context: Context) -> None:
    now = datetime.now(UTC)
    rows = [
        (
            link.id,
            link.org,
            link.scope + (" (demo)" if link.instance == "demo" else ""),
            link.created_by,
            when(link.expires_at),
            link.state(now),
        )
        for link in await _embed_links(context).list()
    ]
    header = ("ID", "ORG", "OPENS", "MADE BY", "EXPIRES", "STATE")
    table(context.console, header, rows, empty="no embed links")


async def _embed_revoke(args: argparse.Namespace, context: Context) -> None:
    done = await _embed_links(context).revoke(args.id, operator())
    context.console.out(f"revoked embed link {done.id} of {done.org} ({done.scope})")
    await audit(context, f"embed link {done.id} revoked ({done.scope})", done.org)
