"""``burki-dashboard``: run the dashboard (demo or real), or the simulator alone."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from urllib.parse import urlsplit

from webapp import parts
from webapp.access.admincli import (
    ADMIN_COMMANDS,
    AdminError,
    BurkiLookup,
    add_admin_commands,
    run_admin_command,
)
from webapp.access.embedlinks import EmbedScope
from webapp.access.filemove import OldFiles, files_waiting, migrate_files
from webapp.access.signinlinks import new_link
from webapp.access.wiring import Access
from webapp.app import create_app
from webapp.cluster import startup
from webapp.demo import Demo
from webapp.logs import configure_logging
from webapp.orgcli import add_org_commands, org_rest, run_org_command
from webapp.server import DashboardServer, uvicorn_config
from webapp.settings import Settings, SettingsError, load_settings
from webapp.simulator import serve_forever
from webapp.store import migrate
from webapp.store.database import StoreError, one_line
from webapp.store.store import open_store
from webapp.wire.rest import NotFound, RestError
from webapp.wire.streamkey import DEFAULT_ORG

log = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"burki-dashboard: bad setting: {exc}", file=sys.stderr)
        return 2
    if args.command in ADMIN_COMMANDS:
        return run_admin_command(args, settings, burki=burki_lookup(settings))
    if args.command == "org":
        return run_org_command(args, settings)
    if args.command == "signin-link":
        return _signin_link(settings)
    if args.command == "db":
        return asyncio.run(_db_upgrade(settings))
    if args.command == "migrate-files":
        return asyncio.run(_migrate_files(settings))
    try:
        if args.command == "simulator":
            configure_logging(settings.dashboard_log_level)
            names = ", ".join(name for name, _ in args.org or ())
            served = f"organisations: {names}" if names else f"API key: {args.key}"
            print(f"Burki simulator on http://{args.host}:{args.port}/ ({served})")
            asyncio.run(_simulator(args))
        else:
            if settings.redis_url is not None:
                asyncio.run(startup.check(settings.redis_url.get_secret_value()))
            asyncio.run(store_ready(settings))
            asyncio.run(serve(settings))
    except KeyboardInterrupt:
        pass
    except (startup.ClusterUnusable, StartRefused) as exc:
        print(f"burki-dashboard: {exc}", file=sys.stderr)
        return 2
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="burki-dashboard", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="serve the dashboard (the default command)")
    sim = commands.add_parser("simulator", help="run the built-in Burki simulator alone")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8765)
    sim.add_argument("--key", default="sim-key", help="the API key the simulator accepts")
    sim.add_argument(
        "--org",
        action="append",
        type=_sim_org,
        metavar="NAME:KEY",
        help="serve this organisation with its own key and world (repeat for several; "
        "replaces --key)",
    )
    sim.add_argument("--seed", type=int, default=7)
    sim.add_argument("--speed", type=float, default=1.0)
    sim.add_argument("--dialect", choices=["A", "B", "C"], help="one campaign dialect for all")
    sim.add_argument("--oss-quirks", action="store_true", help="behave like the open-source server")
    commands.add_parser(
        "signin-link", help="print another one-time sign-in link for the running demo"
    )
    db = commands.add_parser("db", help="the store's database")
    db.add_subparsers(dest="db_command", required=True).add_parser(
        "upgrade", help="apply the migrations (the server also applies them at start-up)"
    )
    commands.add_parser(
        "migrate-files",
        help="copy users, tokens, embed links and audit entries from the old files into the "
        "database (again: nothing is copied twice)",
    )
    add_admin_commands(commands)
    add_org_commands(commands)
    return parser


class StartRefused(Exception):
    """The dashboard cannot start; the message is one line saying why and what to do."""


def old_files(settings: Settings) -> OldFiles:
    return OldFiles(
        users=settings.dashboard_users_file,
        tokens=settings.dashboard_tokens_file,
        embed_links=settings.embed_links_file,
        audit=settings.dashboard_audit_file,
    )


async def store_ready(settings: Settings) -> None:
    """The store reachable and its schema current, and no old files waiting to be moved;
    StartRefused (one line) otherwise."""
    try:
        store = await open_store(settings.store_url, settings.database_timeout)
    except StoreError as exc:
        raise StartRefused(one_line(exc)) from None
    try:
        waiting = await files_waiting(store, old_files(settings))
    except StoreError as exc:
        raise StartRefused(one_line(exc)) from None
    finally:
        await store.close()
    if waiting is not None:
        raise StartRefused(waiting)


async def _migrate_files(settings: Settings) -> int:
    try:
        store = await open_store(settings.store_url, settings.database_timeout)
        try:
            moved = await migrate_files(store, old_files(settings))
        finally:
            await store.close()
    except StoreError as exc:
        print(f"burki-dashboard: {one_line(exc)}", file=sys.stderr)
        return 2
    print(f"{store.where}: {moved}; the old files were only read")
    return 0


async def _db_upgrade(settings: Settings) -> int:
    """Bring the store's database to the newest schema; one line either way."""
    try:
        store = await open_store(settings.store_url, settings.database_timeout)
    except StoreError as exc:
        print(f"burki-dashboard: {one_line(exc)}", file=sys.stderr)
        return 2
    try:
        print(f"{store.where}: at the newest schema ({migrate.head()})")
    finally:
        await store.close()
    return 0


def _signin_link(settings: Settings) -> int:
    """Another one-time sign-in link for the demo that runs with these settings."""
    try:
        print(new_link(settings.dashboard_users_file.parent))
    except (OSError, ValueError, KeyError):
        print(
            "burki-dashboard: no demo is running here (start one with `make run`)", file=sys.stderr
        )
        return 1
    return 0


def _sim_org(value: str) -> tuple[str, str]:
    name, _, key = value.partition(":")
    if not name or not key:
        raise argparse.ArgumentTypeError("an organisation is NAME:KEY")
    return name, key


async def _simulator(args: argparse.Namespace) -> None:
    await serve_forever(
        args.port,
        args.host,
        api_key=args.key,
        orgs=dict(args.org) if args.org else None,
        seed=args.seed,
        speed=args.speed,
        campaign_dialect=args.dialect,
        oss_quirks=args.oss_quirks,
    )


def burki_lookup(settings: Settings) -> BurkiLookup | None:
    """Whether Burki knows a call or campaign, asked over the REST of the scope's own
    organisation with its own key (``BURKI_API_KEY``'s for the default one, the org book's
    sealed one for another); None in demo mode."""
    if settings.demo:
        return None

    async def known(scope: EmbedScope) -> bool:
        client = (
            parts.burki_rest(settings)
            if scope.org == DEFAULT_ORG
            else org_rest(settings, scope.org)
        )
        async with client as rest:
            try:
                if scope.kind == "call":
                    await rest.call(scope.ident)
                else:
                    await rest.campaign(int(scope.ident))
            except NotFound:
                return False
            except RestError as exc:
                raise AdminError(f"could not ask Burki whether {scope} exists: {exc}") from None
        return True

    return known


async def banner(settings: Settings, access: Access, demo: bool) -> str:
    """The line that tells the user what to open. Demo mode: a one-time sign-in link."""
    base = f"http://{settings.dashboard_host}:{settings.dashboard_port}"
    if demo:
        link = access.demo_link()
        access.links.publish_key(settings.dashboard_users_file.parent, base)
        return (
            f"Burki Live (demo mode, simulated Burki): open {base}{link}\n"
            "  Another device (a TV, a laptop): run `burki-dashboard signin-link` for a new link."
        )
    if settings.burki_api_key is not None:
        line = f"Burki Live ({settings.burki_base_url}): open {base}/"
    else:
        count = len(await access.store.orgs.all())
        line = f"Burki Live ({count} organisation(s) of the org book): open {base}/"
        if not count:
            line += (
                "\n  No organisations yet: add one with `burki-dashboard org add SLUG --name "
                "NAME --url URL` or on /admin (docs/organisations.md)."
            )
    if settings.dashboard_auth_mode == "password" and not await access.users.list():
        line += "\n  No users yet: add one with `burki-dashboard user add NAME --role admin`."
    return line


def secrets_of(settings: Settings) -> tuple[str, ...]:
    """Everything no log line may show: the Burki key, the master key(s), the webhook
    secrets, the SMTP, Redis and database passwords."""
    key, master = settings.burki_api_key, settings.burki_master_key
    found = [key.get_secret_value()] if key is not None else []
    if master is not None:
        found += [part.strip() for part in master.get_secret_value().split(",") if part.strip()]
    if settings.smtp_password.get_secret_value():
        found.append(settings.smtp_password.get_secret_value())
    for endpoint in settings.webhooks:
        found += endpoint.secrets
    if settings.redis_url is not None:
        password = urlsplit(settings.redis_url.get_secret_value()).password
        found += [password] if password else []
    if settings.database_url is not None:
        password = settings.store_url.password
        found += [str(password)] if password else []
    return tuple(found)


async def serve(settings: Settings) -> None:
    """Serve the dashboard; in demo mode, with the simulator standing in for Burki (two
    organisations, each with its own key)."""
    demo: Demo | None = None
    extra: tuple[str, ...] = ()
    if settings.demo:
        demo = Demo(settings)
        settings = await demo.start()
        extra = demo.secrets
    configure_logging(settings.dashboard_log_level, secrets_of(settings) + extra)
    if settings.redis_url is not None and settings.database_url is None:
        log.warning(
            "REDIS_URL without DATABASE_URL: the nodes share users and tokens only through "
            "the SQLite file %s, which works for nodes on this one machine only",
            settings.dashboard_database_file,
        )
    access = parts.access(settings, demo=demo is not None)
    stops = [demo.stop] if demo is not None else []
    app = create_app(settings, demo=demo is not None, access=access, on_shutdown=stops)
    config = uvicorn_config(app, settings)
    await access.open()
    print(await banner(settings, access, demo is not None), flush=True)
    try:
        await DashboardServer(config, app).serve()
    finally:
        if demo is not None:
            await demo.stop()  # already stopped by the lifespan unless start-up failed
