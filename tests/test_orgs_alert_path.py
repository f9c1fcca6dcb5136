"""One call id in two organisations, end to end over real sockets: each organisation's
Burki (a simulator each, its own key) raises an alert on its own call; the hub's streams
carry their organisation to the routes (an organisation's route gets only its alert, a
global one both, each naming its organisation) and to the history (two alert rows, two
summaries), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta

from tests import configs
from tests.hubs import of_type, upstream_config
from tests.receiver import receiving
from webapp.alerts.callalerts import CallAlerts
from webapp.alerts.endpoints import parse_endpoints
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


async def test_one_call_id_in_two_orgs_alerts_each_orgs_routes_and_rows(store_db: Store) -> None:
    async with two_burkis() as sims, receiving() as acme_hook, receiving() as global_hook:
        for sim in sims.values():
            sim.add_call(SID)
        routes = parse_endpoints(
            f'[{{"url": "{acme_hook.url}", "secret": "{"s" * 20}", "org": "acme",'
            f' "events": ["alert"]}}, {{"url": "{global_hook.url}", "secret": "{"s" * 20}",'
            ' "events": ["alert"]}]'
        )
        dispatcher = WebhookDispatcher(routes, org_names=NAMES.__getitem__)
        recorder = Recorder(store_db.history)
        dispatcher.start()
        recorder.start()
        async with AsyncExitStack() as stack:
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
            try:
                keys = [StreamKey.call(SID), StreamKey.call(SID, "acme")]
                with hub.watch(keys, {}) as viewing:
                    await each(viewing.sub, keys, of_type("status", state="live"))
                    for org, sim in sims.items():
                        sim.add_segment(SID, "user", f"My lawyer at {NAMES[org]} will call.")
                    await each(viewing.sub, keys, of_type("alert"))
                    for sim in sims.values():
                        sim.set_call_status(SID, "completed")
                    await each(viewing.sub, keys, of_type("end"))
                await dispatcher.wait_idle()
                await recorder.drained()
            finally:
                await hub.close()
                await dispatcher.close()
                await recorder.close()
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
