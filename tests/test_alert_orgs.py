"""Alert routes per organisation over real sockets: a route of one organisation gets only
its events, a global one every organisation's; every payload (signed JSON, Slack, Teams,
e-mail) names the organisation and links to its page; the test alert of each route is
about its organisation; /admin shows each route's organisation."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.live import csrf_of, running_app
from tests.receiver import Received, receiving
from tests.test_alert_routing import alert, email_route, smtp_server
from webapp.alerts.endpoints import Endpoint, parse_endpoints
from webapp.alerts.lanes import route_id
from webapp.alerts.signed import verify
from webapp.alerts.webhooks import WebhookDispatcher
from webapp.relay.metrics import Metrics
from webapp.settings import Settings
from webapp.simulator import Simulator
from webapp.wire.streamkey import StreamKey, stream_path

PUBLIC = "https://live.example.com"
SID = "CA0123456789abcdef0123456789abcdef"
SECRET = "s" * 32
NAMES = {"default": "Burki", "acme": "Acme Support", "globex": "Globex Sales"}


def route(url: str, org: str = "", **more: Any) -> Endpoint:
    entry = {"url": url, "secret": SECRET, **({"org": org} if org else {}), **more}
    return parse_endpoints(json.dumps([entry]))[0]


@asynccontextmanager
async def dispatching(routes: list[Endpoint], **options: Any) -> AsyncIterator[WebhookDispatcher]:
    dispatcher = WebhookDispatcher(
        routes,
        public_url=PUBLIC,
        org_names=NAMES.__getitem__,
        backoff_base=0.01,
        backoff_cap=0.05,
        timeout=2.0,
        **options,
    )
    dispatcher.start()
    try:
        yield dispatcher
    finally:
        await asyncio.wait_for(dispatcher.close(), 5)


def offer_everyones(dispatcher: WebhookDispatcher) -> None:
    """The same call id raising an alert in three organisations, and one campaign event."""
    for org in ("default", "acme", "globex"):
        key = StreamKey.call(SID, org)
        dispatcher.offer(key, f"{key}/a", "alert", alert("a", "high", "keyword"))
    progress = {"counters": {"total": 3}, "status": "running"}
    dispatcher.offer(StreamKey.campaign(7, "acme"), "acme/campaign:7/1", "progress", progress)


def signed(requests: list[Received]) -> list[dict[str, Any]]:
    for request in requests:
        assert verify(SECRET, request.headers["x-burki-live-signature"], request.body)
    return [request.json for request in requests]


async def test_an_org_route_gets_only_its_orgs_events_and_a_global_route_every_orgs() -> None:
    async with receiving() as acme, receiving() as globex, receiving() as everyone:
        routes = [route(acme.url, "acme"), route(globex.url, "globex"), route(everyone.url)]
        async with dispatching(routes) as dispatcher:
            offer_everyones(dispatcher)
            await dispatcher.wait_idle()
            status = dispatcher.status()
        acme_bodies, globex_bodies = signed(acme.requests), signed(globex.requests)
        all_bodies = signed(everyone.requests)
    assert [(b["stream"], b["type"]) for b in acme_bodies] == [
        (f"acme/call:{SID}", "alert"),
        ("acme/campaign:7", "progress"),
    ]
    assert {(b["org"], b["org_name"]) for b in acme_bodies} == {("acme", "Acme Support")}
    assert [(b["org"], b["org_name"]) for b in globex_bodies] == [("globex", "Globex Sales")]
    assert [b["org"] for b in all_bodies] == ["default", "acme", "globex", "acme"]
    assert all_bodies[0]["stream"] == f"call:{SID}" and all_bodies[0]["org_name"] == "Burki"
    assert [(row["org"], row["org_name"], row["delivered"]) for row in status] == [
        ("acme", "Acme Support", 2),
        ("globex", "Globex Sales", 1),
        ("", "", 4),
    ]


async def test_chat_and_mail_name_the_org_and_link_to_its_page() -> None:
    async with receiving() as slack, receiving() as teams, smtp_server() as (inbox, port):
        mail, mailer = email_route(port, org="acme")
        routes = [
            route(slack.url, "acme", format="slack", secret=""),
            route(teams.url, format="teams", secret=""),
            mail,
        ]
        async with dispatching(routes, mailer=mailer) as dispatcher:
            for org in ("globex", "acme"):
                dispatcher.offer(
                    StreamKey.call(SID, org), f"{org}/a", "alert", alert("a", "high", "keyword")
                )
            await inbox.wait_for(1)
            await dispatcher.wait_idle()
        [slack_message] = [r.json for r in slack.requests]
        globex_card, acme_card = [r.json for r in teams.requests]
    link = f"{PUBLIC}/o/acme/calls/{SID}"
    assert slack_message["text"] == f"HIGH alert on call {SID} (Acme Support (acme)) {link}"
    _, context, actions = slack_message["blocks"]
    assert context["elements"][0]["text"] == "Organisation: Acme Support (acme)"
    assert actions["elements"][0]["url"] == link
    assert acme_card["sections"] == [
        {"facts": [{"name": "Organisation", "value": "Acme Support (acme)"}]}
    ]
    assert acme_card["potentialAction"][0]["targets"][0]["uri"] == link
    assert globex_card["potentialAction"][0]["targets"][0]["uri"] == (
        f"{PUBLIC}/o/globex/calls/{SID}"
    )
    [(_, message)] = inbox.messages  # the mail route is acme's: globex's alert is not mailed
    subject = " ".join(message["Subject"].split())
    assert subject == f"[Burki Live] [Acme Support] HIGH alert on call {SID}"
    body = message.get_payload(decode=True).decode()  # quoted-printable: a long link wraps
    assert "Organisation: Acme Support (acme)" in body and f"Open it: {link}" in body


async def test_each_routes_test_alert_is_about_a_call_of_its_own_org() -> None:
    async with receiving() as acme, receiving() as everyone:
        async with dispatching([route(acme.url, "acme"), route(everyone.url)]) as dispatcher:
            assert dispatcher.send_test() == 2
            await dispatcher.wait_idle()
        [(acme_test)], [everyone_test] = signed(acme.requests), signed(everyone.requests)
    assert (acme_test["stream"], acme_test["org_name"]) == ("acme/call:TEST", "Acme Support")
    assert (everyone_test["stream"], everyone_test["org"]) == ("call:TEST", "default")
    assert acme_test["data"]["kind"] == everyone_test["data"]["kind"] == "test"


def test_a_cluster_numbers_a_frame_only_for_the_routes_of_its_org() -> None:
    routes = [route("http://127.0.0.1:9/a", "acme"), route("http://127.0.0.1:9/a")]
    dispatcher = WebhookDispatcher(routes)
    data = alert("a", "high", "keyword")
    acme_route, global_route = (route_id(r) for r in routes)
    assert acme_route != global_route  # one URL, two routes: each its own delivery marks
    assert dispatcher.routes(StreamKey.call(SID, "acme"), "alert", data) == [
        acme_route,
        global_route,
    ]
    assert dispatcher.routes(StreamKey.call(SID, "globex"), "alert", data) == [global_route]
    # A global route keeps the name it had before organisations: its marks carry over.
    assert global_route == hashlib.sha256(b"signed http://127.0.0.1:9/a").hexdigest()[:16]


def test_a_routes_org_is_a_slug_or_nothing() -> None:
    assert route("https://a.example/h").org == ""
    with pytest.raises(ValueError, match="endpoint 1: org must be an organisation's slug"):
        route("https://a.example/h", "Acme Corp")
    with pytest.raises(ValueError, match="endpoint 1: org must be"):
        parse_endpoints(json.dumps([{"url": "https://a.example", "secret": SECRET, "org": 7}]))
    assert Settings(alert_email_to="ops@example.com", alert_email_org="acme").email_route
    with pytest.raises(ValueError, match="ALERT_EMAIL_ORG: e-mail: org must be"):
        Settings(alert_email_to="ops@example.com", alert_email_org="ACME!")


async def test_admin_shows_each_routes_org_and_a_global_one_as_all(sim: Simulator) -> None:
    async with receiving() as receiver:
        hooks = json.dumps(
            [
                {"url": receiver.url, "secret": SECRET, "org": "acme"},
                {"url": receiver.url + "2", "secret": SECRET},
            ]
        )
        settings = {"webhook_endpoints": hooks, "dashboard_public_url": PUBLIC}
        async with running_app(sim, **settings) as live, live.client(timeout=10) as root:
            token = await csrf_of(root, f"{live.url}/admin")
            done = await root.post(f"{live.url}/admin/alert-test", data={"csrf": token})
            assert done.status_code == 200 and "queued for 2 route" in done.text
            bodies = [r.json for r in await receiver.wait_for(2)]
            admin = done.text
    assert {b["stream"] for b in bodies} == {"acme/call:TEST", "call:TEST"}
    assert "<td>acme (<code>acme</code>)</td>" not in admin  # an unknown org: its slug alone
    assert "<td>acme</td>" in admin and "<td>All organisations</td>" in admin


def test_a_streams_page_path_names_its_org_unless_it_is_the_default() -> None:
    assert stream_path(StreamKey.call("CA:1")) == "/calls/CA%3A1"
    assert stream_path(StreamKey.campaign(7)) == "/campaigns/7"
    assert stream_path(StreamKey.call("CA1", "acme")) == "/o/acme/calls/CA1"
    assert stream_path(StreamKey.campaign(7, "acme")) == "/o/acme/campaigns/7"


def test_metrics_keep_one_urls_routes_of_two_orgs_apart() -> None:
    url = "http://127.0.0.1:9/a"
    metrics = Metrics()
    metrics.watch_webhooks(WebhookDispatcher([route(url, "acme"), route(url)]))
    families = text_string_to_metric_families(generate_latest(metrics.registry).decode())
    [family] = [f for f in families if f.name == "burki_live_webhook"]
    delivered = [s.labels for s in family.samples if s.labels["count"] == "delivered"]
    assert sorted(labels["org"] for labels in delivered) == ["acme", "all"]
