"""The application factory: ``create_app(settings)`` wires every part together."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from webapp import probes
from webapp.access.wiring import Access
from webapp.alerts.callalerts import AlertConfig, CallAlerts
from webapp.alerts.keywords import KeywordMatcher, parse_rules
from webapp.alerts.sentiment import SentimentScorer
from webapp.alerts.webhooks import WebhookDispatcher, parse_endpoints
from webapp.pages import admin, api, errorpages, exports, livepages, overview, signin, wallboard
from webapp.pages.directory import Directory
from webapp.relay.hub import Hub
from webapp.relay.metrics import Metrics
from webapp.relay.sseresponse import RAW_SEND
from webapp.relay.stream import Integrations, RelayConfig
from webapp.settings import PROJECT_ROOT, Settings
from webapp.wire.rest import BurkiRest
from webapp.wire.sources import Sources
from webapp.wire.upstream import UpstreamConfig


def relay_config(settings: Settings) -> RelayConfig:
    return RelayConfig(
        grace_period=settings.relay_grace_period,
        linger=settings.relay_linger,
        log_size=settings.relay_log_size,
        viewer_queue=settings.relay_viewer_queue,
        poll_interval=settings.relay_poll_interval,
        poll_after_failures=settings.relay_poll_after_failures,
        heartbeat=settings.relay_heartbeat,
        replay_quiet=settings.relay_replay_quiet,
        no_activity=settings.relay_no_activity_minutes * 60.0,
    )


def alert_factory(settings: Settings) -> Callable[[], CallAlerts]:
    """One scorer and one matcher for the process; alert state per call."""
    config = AlertConfig(
        segment_threshold=settings.alert_segment_threshold,
        average_threshold=settings.alert_average_threshold,
        window=settings.alert_window,
        rules=tuple(parse_rules(settings.alert_keywords)),
    )
    scorer, matcher = SentimentScorer(), KeywordMatcher(config.rules)
    return lambda: CallAlerts(config, scorer, matcher)


def webhook_dispatcher(settings: Settings) -> WebhookDispatcher | None:
    text = settings.webhook_endpoints.get_secret_value()
    if not text.strip():
        return None
    return WebhookDispatcher(
        parse_endpoints(text),
        queue_size=settings.webhook_queue_size,
        timeout=settings.webhook_timeout,
        max_attempts=settings.webhook_max_attempts,
    )


class DashboardApp(Starlette):
    """Starlette, plus the server's own ``send`` in the scope for SSE bodies (the hot path)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[RAW_SEND] = send
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings, *, demo: bool | None = None, access: Access | None = None
) -> Starlette:
    """Build the app. ``demo`` marks data as simulated (default: no key was configured).

    The lifespan owns every long-lived part: the REST client, the hub and its
    streams, and companions such as the demo simulator (``app.state.on_shutdown``).
    Shutdown closes the hub first, so open SSE responses end promptly.
    """
    key = settings.burki_api_key
    metrics = Metrics()
    access = access or Access.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with BurkiRest(
            settings.burki_base_url,
            key.get_secret_value() if key is not None else "",
            timeout=settings.burki_rest_timeout,
            ca_bundle=str(settings.burki_ca_bundle) if settings.burki_ca_bundle else None,
        ) as rest:
            sources = Sources(UpstreamConfig.from_settings(settings), rest)
            directory = Directory(
                rest, settings.directory_poll_interval, settings.relay_grace_period
            )
            webhooks = webhook_dispatcher(settings)
            integrations = Integrations(
                alert_factory(settings), webhooks, directory.add_alert, directory.poke
            )
            app.state.rest = rest
            app.state.directory = directory
            app.state.webhooks = webhooks
            app.state.hub = Hub(sources, relay_config(settings), metrics, integrations)
            metrics.watch_webhooks(webhooks)
            if webhooks is not None:
                webhooks.start()
            await run_in_threadpool(access.audit.prune)
            try:
                yield
            finally:
                await directory.close()
                await app.state.hub.close()
                if webhooks is not None:
                    await webhooks.close()
                for stop in reversed(app.state.on_shutdown):
                    await stop()

    app = DashboardApp(
        routes=[
            Route("/signin", signin.signin_form, name="signin"),
            Route("/signin", signin.signin, methods=["POST"]),
            Route("/signin/link", signin.signin_link, name="signin_link"),
            Route("/signout", signin.signout, methods=["POST"], name="signout"),
            Route("/admin", admin.page, name="admin"),
            Route("/admin/audit.csv", admin.audit_csv, name="admin_audit_csv"),
            Route("/admin/embed-link", admin.embed_link, methods=["POST"], name="admin_embed_link"),
            Route("/", overview.page, name="index"),
            Route("/overview/updates", overview.updates, name="overview_updates"),
            Route("/calls/{sid}", livepages.call_page, name="call"),
            Route("/calls/{sid}/captions", livepages.captions_page, name="captions"),
            Route("/calls/{sid}/transcript.{fmt}", exports.call_export, name="call_export"),
            Route("/campaigns/{campaign_id}", livepages.campaign_page, name="campaign"),
            Route("/embed/calls/{sid}", livepages.call_embed, name="call_embed"),
            Route(
                "/embed/campaigns/{campaign_id}", livepages.campaign_embed, name="campaign_embed"
            ),
            Route("/live/{view}/{kind}/{ident}", livepages.live_updates, name="live_updates"),
            Route(
                "/embed/live/{view}/{kind}/{ident}",
                livepages.live_updates,
                name="embed_live_updates",
            ),
            Route("/wallboard", wallboard.page, name="wallboard"),
            Route("/wallboard/updates", wallboard.updates, name="wallboard_updates"),
            Route("/api/calls/{sid}/events", api.call_events, name="call_events"),
            Route(
                "/api/campaigns/{campaign_id}/events", api.campaign_events, name="campaign_events"
            ),
            Route("/api/events", api.multiplexed_events, name="events"),
            Route("/healthz", probes.healthz, name="healthz"),
            Route("/readyz", probes.readyz, name="readyz"),
            Route("/metrics", probes.metrics, name="metrics"),
            Mount("/static", StaticFiles(directory=PROJECT_ROOT / "static"), name="static"),
        ],
        exception_handlers=errorpages.EXCEPTION_HANDLERS,
        middleware=access.middleware(settings),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.access = access
    app.state.users, app.state.tokens, app.state.audit = access.users, access.tokens, access.audit
    app.state.throttle, app.state.signin_links = access.throttle, access.links
    app.state.embeds = access.embeds
    app.state.metrics = metrics
    app.state.demo = settings.demo if demo is None else demo
    # Companions started before the app (the demo simulator) that its lifespan stops last.
    app.state.on_shutdown = []
    return app
