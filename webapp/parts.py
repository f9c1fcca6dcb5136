"""The rooms' parts, built from the one settings object: the only place below ``app`` that reads it.

The rooms take small config dataclasses or plain values; this module turns
the settings into them, so no room imports the root.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from functools import partial

from starlette.middleware import Middleware
from starlette.middleware.exceptions import ExceptionMiddleware

from webapp.access.audit import AuditLog
from webapp.access.auth import AuthConfig, AuthGate, Resolver
from webapp.access.bodylimit import BodyLimit
from webapp.access.caps import Limits, StreamCaps
from webapp.access.devices import DeviceCookies
from webapp.access.embedlinks import EmbedLinks, EmbedSigner
from webapp.access.embedstore import StoredEmbedLinks
from webapp.access.hashwork import HashWork
from webapp.access.proxies import TrustedProxies
from webapp.access.secheaders import SecurityHeaders
from webapp.access.sessions import Instance, LinkEpochs, SchemeSessions, SessionPolicy
from webapp.access.signinlinks import SignInLinks
from webapp.access.throttle import SignInThrottle
from webapp.access.tokens import TokenStore
from webapp.access.users import UserStore
from webapp.access.wiring import SESSION_COOKIE, Access, sso_roles
from webapp.alerts.attention import Attention
from webapp.alerts.callalerts import CallAlerts
from webapp.alerts.keywords import KeywordMatcher
from webapp.alerts.mail import Mailer
from webapp.alerts.sentiment import SentimentScorer
from webapp.alerts.webhooks import WebhookDispatcher
from webapp.cluster import startup
from webapp.cluster.auditonce import RedisOnce
from webapp.cluster.marks import RedisMarks
from webapp.cluster.replica import Cluster
from webapp.cluster.streamcaps import RedisStreamCaps
from webapp.cluster.throttle import RedisAttempts
from webapp.configs import (
    alert_config,
    bus_config,
    history_retention,
    redaction_config,
    relay_config,
)
from webapp.history.keeper import Keeper
from webapp.orgparts import (
    TenantBuilder,
    assistant_name,
    book_news,
    default_org,
    monitors_of,
    org_book,
    org_name,
    rest_client,
)
from webapp.orgs.runner import OrgRunner
from webapp.orgs.tenants import Tenants
from webapp.pages import errorpages
from webapp.pages.capabilities import ActionPolicy, Capabilities
from webapp.pages.state import AppState, LinksBase
from webapp.relay.bulletin import Bulletin
from webapp.relay.config import Integrations
from webapp.relay.hub import Hub
from webapp.relay.metrics import Metrics
from webapp.relay.ports import DeliveryMarks
from webapp.settings import Settings
from webapp.store.database import Database, make_engine
from webapp.store.store import Store
from webapp.watch.gauges import MonitorGauges
from webapp.wire.rest import BurkiRest


def burki_rest(settings: Settings) -> BurkiRest:
    """The REST client of ``BURKI_API_KEY``'s Burki (the default organisation's)."""
    key = settings.burki_api_key
    return rest_client(
        settings, settings.burki_base_url, key.get_secret_value() if key is not None else ""
    )


def app_state(settings: Settings, access: Access, demo: bool) -> AppState:
    """The running parts, wired; the lifespan starts and stops them (``state.orgs`` each
    organisation's: ``BURKI_API_KEY``'s and those of the org book)."""
    metrics = Metrics()
    keeper = history(settings, access.store)
    metrics.watch_history(keeper.recorder)
    store = cluster(settings)
    bulletin = Bulletin()  # what the streams tell the lists: the directories read it
    tenants = Tenants()
    webhooks = webhook_dispatcher(
        settings,
        RedisMarks(store.bus) if store is not None else None,
        partial(org_name, tenants),
    )
    metrics.watch_webhooks(webhooks)
    if store is not None:
        metrics.watch_refused(store.bus.refused)
    redaction = redaction_config(settings)
    integrations = Integrations(
        alert_factory(settings),
        webhooks,
        bulletin,
        sharing=store,
        attention=Attention(settings.weights),
        redaction=redaction,
        assistant_name=partial(assistant_name, tenants),
        history=keeper.recording,
    )
    hub = Hub(tenants, relay_config(settings), metrics, integrations)
    builder = TenantBuilder(settings, hub, store, bulletin)
    runner = OrgRunner(
        tenants,
        hub,
        org_book(settings, access.store),
        builder,
        interval=settings.org_refresh_seconds,
        news=book_news(settings, store),
    )
    key = settings.burki_api_key
    if key is not None:
        runner.add_fixed(builder(default_org(settings), key.get_secret_value()))
    if settings.monitor_enabled:  # one collector: a series per organisation's monitor
        metrics.registry.register(MonitorGauges(partial(monitors_of, tenants)))
    return AppState(
        access=access,
        metrics=metrics,
        tenants=tenants,
        hub=hub,
        webhooks=webhooks,
        demo=demo,
        sso=settings.dashboard_auth_mode == "sso",
        audit_retention_days=settings.dashboard_audit_retention_days,
        redaction=redaction,
        unredact_roles=settings.unredact_roles,
        attention_threshold=settings.attention_threshold,
        links_base=LinksBase(settings.dashboard_public_url, settings.dashboard_host),
        actions=ActionPolicy(
            settings.end_call_roles,
            settings.campaign_roles,
            Capabilities(settings.actions_capability_ttl),
        ),
        store=store.bus if store is not None else None,
        history=keeper,
        orgs=runner,
    )


def history(settings: Settings, database: Store) -> Keeper:
    """The history's writer and pruner on the store's database."""
    return Keeper(database.history, history_retention(settings), settings.history_queue)


def cluster(settings: Settings) -> Cluster | None:
    """The node's link to the cluster's Redis; None alone (no ``REDIS_URL``)."""
    if settings.redis_url is None:
        return None
    config = bus_config(settings, startup.node_id(settings.dashboard_node_id))
    return startup.cluster(settings.redis_url.get_secret_value(), config)


def alert_factory(settings: Settings) -> Callable[[], CallAlerts]:
    """One scorer and one matcher for the process; alert state per call."""
    config = alert_config(settings)
    scorer, matcher = SentimentScorer(), KeywordMatcher(config.rules)
    return lambda: CallAlerts(config, scorer, matcher)


def webhook_dispatcher(
    settings: Settings,
    marks: DeliveryMarks | None = None,
    org_names: Callable[[str], str] = str,
) -> WebhookDispatcher | None:
    """Every route of events out (signed webhooks, Slack, Teams, e-mail); None: no route.
    ``marks``: a cluster's shared delivery marks; ``org_names``: an organisation's display
    name by its slug, for the payloads."""
    email = settings.email_route
    routes = [*settings.webhooks, *([email] if email is not None else [])]
    if not routes:
        return None
    return WebhookDispatcher(
        routes,
        queue_size=settings.webhook_queue_size,
        timeout=settings.webhook_timeout,
        max_attempts=settings.webhook_max_attempts,
        public_url=settings.dashboard_public_url,
        mailer=mailer(settings) if email is not None else None,
        marks=marks,
        org_names=org_names,
    )


def mailer(settings: Settings) -> Mailer:
    recipients = tuple(a.strip() for a in settings.alert_email_to.split(",") if a.strip())
    return Mailer(
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_sender,
        recipients,
        settings.smtp_security,
        settings.smtp_username,
        settings.smtp_password.get_secret_value(),
        settings.webhook_timeout,
    )


def access(
    settings: Settings, clock: Callable[[], float] = time.time, *, demo: bool | None = None
) -> Access:
    """Who-may-watch's parts. ``demo``: the instance kind its sessions carry (default: no key)."""
    configured = settings.dashboard_session_secret
    secret = configured.get_secret_value() if configured else secrets.token_urlsafe(48)
    store = Store(
        Database(make_engine(settings.store_url, settings.database_timeout), settings.store_url)
    )
    users = UserStore(store)
    limits = Limits(
        per_session=settings.dashboard_streams_per_session,
        per_user=settings.dashboard_streams_per_user,
        total=settings.dashboard_streams_total,
    )
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url is not None else None
    instance: Instance = "demo" if (settings.demo if demo is None else demo) else "live"
    device_age = settings.dashboard_device_days * 86_400
    return Access(
        store=store,
        users=users,
        tokens=TokenStore(store),
        audit=AuditLog(store, settings.dashboard_audit_retention_days),
        embeds=EmbedLinks(EmbedSigner(secret, instance, clock), StoredEmbedLinks(store)),
        throttle=SignInThrottle(),
        links=SignInLinks(),
        session_secret=secret,
        sessions=SessionPolicy(
            instance=instance,
            users=users,
            links=LinkEpochs(),
            idle=settings.dashboard_session_idle_minutes * 60,
            max_age=settings.dashboard_session_max_hours * 3600,
            clock=clock,
        ),
        hashing=HashWork(settings.dashboard_signin_workers, settings.dashboard_signin_queue),
        caps=StreamCaps(limits),
        clock=clock,
        shared_throttle=RedisAttempts.connect(redis_url) if redis_url is not None else None,
        shared_caps=RedisStreamCaps.connect(redis_url, limits) if redis_url is not None else None,
        shared_once=RedisOnce.connect(redis_url) if redis_url is not None else None,
        devices=(
            DeviceCookies(secret, instance, device_age, clock, settings.dashboard_https)
            if device_age > 0
            else None
        ),
    )


def middleware(access: Access, settings: Settings) -> list[Middleware]:
    """Outermost first: forwarded headers, security headers, the session, the error map, body
    limits, the auth gate."""
    config = AuthConfig(
        mode=settings.dashboard_auth_mode,
        tokens=access.tokens,
        embeds=access.embeds,
        sessions=access.sessions,
        trusted=list(settings.trusted_proxies),
        sso_user_header=settings.dashboard_sso_user_header,
        sso_role_header=settings.dashboard_sso_role_header,
        sso_role_header_enabled=settings.dashboard_sso_role_header_enabled,
        sso_roles=sso_roles(settings.dashboard_sso_roles_file),
    )
    return [
        Middleware(
            TrustedProxies, trusted=list(settings.trusted_proxies), untrusted=access.forwarding
        ),
        Middleware(
            SecurityHeaders,
            frame_ancestors=settings.embed_origins,
            https=settings.dashboard_https,
        ),
        Middleware(
            SchemeSessions,
            https=settings.dashboard_https,
            secret_key=access.session_secret,
            session_cookie=SESSION_COOKIE,
            max_age=int(settings.dashboard_session_max_hours * 3600),
            same_site="lax",
        ),
        # The gate raises its refusals; the error map answers them as it answers the routes'.
        Middleware(ExceptionMiddleware, handlers=errorpages.EXCEPTION_HANDLERS),
        # Inside the error map, which answers its 411 and 413; before the gate, so a body
        # is refused before anyone is looked up.
        Middleware(BodyLimit, form_bytes=settings.dashboard_max_form_bytes),
        Middleware(
            AuthGate,
            resolver=Resolver(config),
            audit=access.audit,
            caps=access.caps,
            recheck=settings.dashboard_stream_recheck_minutes * 60,
            shared_caps=access.shared_caps,
            per_request=settings.dashboard_streams_per_request,
        ),
    ]
