"""One call id in two organisations, end to end over real sockets: each organisation's
Burki raises an alert on its own call; the hub's streams carry their organisation to the
routes (an organisation's route gets only its alert, a global one both, each naming its
organisation) and to the history (two alert rows, two summaries), on SQLite and PostgreSQL.

One Burki never gives two organisations the same call id (the simulator, serving several,
refuses a stream both hold, as Burki would), but two organisations on two Burki servers
(each organisation has its own base URL: a region, a self-hosted one) may: so two
simulators, one per organisation, each with its own key.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta

from tests import configs
from tests.hubs import of_type, upstream_config
from tests.receiver import Receiver, receiving
from webapp.alerts.callalerts import CallAlerts
from webapp.alerts.endpoints import Endpoint, parse_endpoints
from webapp.alerts.keywords import KeywordMatcher, KeywordRule
from webapp.alerts.sentiment import SentimentScorer
from webapp.alerts.webhooks import WebhookDispatcher
from webapp.history.recording import Recording
from webapp.relay.config import Integrations
from webapp.relay.frames import Frame
from webapp.relay.hub import Hub
from webapp.relay.metrics import Metrics
from webapp.relay.subscriber import Subscriber
from webapp.simulator import Simulator
from webapp.store.history import AlertFilter
from webapp.store.recorder import Recorder
from webapp.store.store import Store
from webapp.wire.rest import BurkiRest
from webapp.wire.sources import Sources
from webapp.wire.streamkey import StreamKey

SID = "CA0123456789abcdef0123456789abcdef"
KEYS = {"default": "sim-key-default-0001", "acme": "sim-key-acme-000002"}
NAMES = {"default": "Burki", "acme": "Acme Support"}
RULES = (KeywordRule("lawyer", "high", "any"),)
SECRET = "s" * 20


class Book:
    """The hub's source book: each organisation's own sources (its own simulator and key)."""

    def __init__(self, sources: dict[str, Sources]) -> None:
        self.sources = sources

    def of(self, key: StreamKey) -> Sources:
        return self.sources[key.org].of(key)


async def each(sub: Subscriber, keys: list[StreamKey], wanted: Callable[[Frame], bool]) -> None:
    """Read ``sub`` until every stream of ``keys`` has handed out a frame ``wanted`` (both
    streams' frames may come in one batch: every frame of each batch is looked at)."""
    left = set(keys)
    async with asyncio.timeout(10):
        while left and (batch := await sub.get_batch()) is not None:
            left -= {frame.stream for frame in batch if wanted(frame)}
    assert not left, f"no such frame of {left}"


@asynccontextmanager
async def two_burkis() -> AsyncIterator[dict[str, Simulator]]:
    async with AsyncExitStack() as stack:
        sims = {
            org: await stack.enter_async_context(Simulator(api_key=key, autoplay=False))
            for org, key in KEYS.items()
        }
        yield sims


@asynccontextmanager
async def relaying(
    sims: dict[str, Simulator], routes: list[Endpoint], store: Store
) -> AsyncIterator[Hub]:
    """A hub whose streams read each organisation's own Burki with its own key, raise
    alerts, post them on ``routes`` and record them in ``store``; on exit every alert is
    delivered and every record written."""
    dispatcher = WebhookDispatcher(routes, org_names=NAMES.__getitem__)
    recorder = Recorder(store.history)
    dispatcher.start()
    recorder.start()
    async with AsyncExitStack() as stack:
        stack.push_async_callback(recorder.close)
        stack.push_async_callback(dispatcher.close)
        rests = {
            org: await stack.enter_async_context(BurkiRest(sim.base_url, KEYS[org]))
            for org, sim in sims.items()
        }
        book = Book(
            {
                org: Sources(upstream_config(sim, api_key=KEYS[org]), rests[org], org)
                for org, sim in sims.items()
            }
        )
        scorer, matcher = SentimentScorer(), KeywordMatcher(RULES)
        integrations = Integrations(
            alerts=lambda: CallAlerts(configs.alerts(rules=RULES), scorer, matcher),
            webhooks=dispatcher,
            history=Recording(recorder),
        )
        hub = Hub(book, configs.relay(), Metrics(), integrations)
        stack.push_async_callback(hub.close)
        yield hub
        await dispatcher.wait_idle()
        await recorder.drained()


async def alert_and_end(hub: Hub, calls: dict[StreamKey, Simulator]) -> None:
    """Each call's caller names a lawyer, then the call ends; returns once every stream ended."""
    keys = list(calls)
    with hub.watch(keys, {}) as viewing:
        await each(viewing.sub, keys, of_type("status", state="live"))
        for key, sim in calls.items():
            sim.add_segment(key.id, "user", f"My lawyer at {NAMES[key.org]} will call.")
        await each(viewing.sub, keys, of_type("alert"))
        for key, sim in calls.items():
            sim.set_call_status(key.id, "completed")
        await each(viewing.sub, keys, of_type("end"))


def routes_for(acme_hook: Receiver, global_hook: Receiver) -> list[Endpoint]:
    return parse_endpoints(
        json.dumps(
            [
                {"url": acme_hook.url, "secret": SECRET, "org": "acme", "events": ["alert"]},
                {"url": global_hook.url, "secret": SECRET, "events": ["alert"]},
            ]
        )
    )


async def test_one_call_id_in_two_orgs_alerts_each_orgs_routes_and_rows(store_db: Store) -> None:
    async with two_burkis() as sims, receiving() as acme_hook, receiving() as global_hook:
        for sim in sims.values():
            sim.add_call(SID)
        calls = {StreamKey.call(SID): sims["default"], StreamKey.call(SID, "acme"): sims["acme"]}
        async with relaying(sims, routes_for(acme_hook, global_hook), store_db) as hub:
            await alert_and_end(hub, calls)
    acme_alerts = [r.json for r in acme_hook.requests]
    assert [(a["stream"], a["org"], a["org_name"]) for a in acme_alerts] == [
        (f"acme/call:{SID}", "acme", "Acme Support")
    ]
    assert "Acme Support" in acme_alerts[0]["data"]["excerpt"]  # the acme call's own words
    assert sorted(r.json["org"] for r in global_hook.requests) == ["acme", "default"]

    now = datetime.now(UTC)
    day = AlertFilter(now - timedelta(days=1), now + timedelta(days=1), orgs={"default", "acme"})
    rows = await store_db.history.alerts(day)
    assert sorted((a.org, a.call_id) for a in rows) == [("acme", SID), ("default", SID)]
    ours, theirs = await store_db.history.call(SID), await store_db.history.call(SID, "acme")
    assert ours is not None and theirs is not None
    assert (ours.org, theirs.org) == ("default", "acme")


async def test_one_burki_serving_two_orgs_routes_each_orgs_alert_by_its_own_key(
    store_db: Store,
) -> None:
    async with Simulator(orgs=KEYS, autoplay=False) as burki:
        sims = {org: burki.org(org) for org in KEYS}
        ours, theirs = sims["default"].add_call(), sims["acme"].add_call()
        calls = {
            StreamKey.call(ours): sims["default"],
            StreamKey.call(theirs, "acme"): sims["acme"],
        }
        async with (
            receiving() as acme_hook,
            receiving() as global_hook,
            relaying(sims, routes_for(acme_hook, global_hook), store_db) as hub,
        ):
            await alert_and_end(hub, calls)
        assert {entry.org for entry in burki.requests.naming(theirs)} == {"acme"}
        assert {entry.org for entry in burki.requests.naming(ours)} == {"default"}
    assert [r.json["stream"] for r in acme_hook.requests] == [f"acme/call:{theirs}"]
    assert sorted(r.json["stream"] for r in global_hook.requests) == sorted(
        [f"call:{ours}", f"acme/call:{theirs}"]
    )
    now = datetime.now(UTC)
    acme = AlertFilter(now - timedelta(days=1), now + timedelta(days=1), orgs={"acme"})
    assert [a.call_id for a in await store_db.history.alerts(acme)] == [theirs]
