"""Several nodes on one real Redis, in this process: one upstream, same ids, resume anywhere."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
from redis.asyncio import Redis

from tests import configs
from tests.cluster import LEASE, flush, nodes, redis_module
from tests.conftest import SIM_KEY
from tests.hubs import upstream_config
from tests.live import (
    SESSION_SECRET,
    Viewer,
    csrf_of,
    data,
    has_segment,
    holds_all,
    is_event,
    is_live,
    placed,
    segments,
)
from tests.receiver import receiving
from tests.redisserver import RedisServer
from tests.test_access import PASSWORD, sign_in
from tests.test_alerts_live import ANGRY, endpoints
from webapp.access.caps import CapReached, Limits
from webapp.access.users import Role
from webapp.calls.inputs import ClaimMade, Feed, HealthDue, Input, PollBatch, WentQuiet
from webapp.cluster import codec
from webapp.cluster.bus import Bus, Entry, Tick
from webapp.cluster.replica import Cluster
from webapp.cluster.streamcaps import RedisStreamCaps
from webapp.delivery import cursor
from webapp.relay.config import Integrations
from webapp.relay.hub import Hub
from webapp.relay.metrics import Metrics
from webapp.relay.timedinputs import TimedInputs
from webapp.simulator import Simulator
from webapp.wire.rest import BurkiRest
from webapp.wire.sources import Sources
from webapp.wire.streamkey import StreamKey

__all__ = ["redis_module"]  # the module's redis-server fixture


@pytest.fixture
def server(redis_module: RedisServer) -> Iterator[RedisServer]:
    flush(redis_module)
    yield redis_module


def bearer(token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=10, headers={"Authorization": f"Bearer {token}"})


def transcript(viewer: Viewer) -> list[tuple[str, str]]:
    return [(e.id, e.data) for e in viewer.events if e.event == "transcript"]


async def test_sixty_viewers_on_three_nodes_share_one_upstream_and_the_same_ids(
    sim: Simulator, server: RedisServer
) -> None:
    sid = sim.add_call()
    caps = {"dashboard_streams_per_session": 60, "dashboard_streams_per_user": 60}
    async with nodes(sim, server, **caps) as cluster:
        token = await cluster[0].token(Role.ADMIN)
        async with bearer(token) as client:
            viewers = [
                Viewer(cluster[n % 3].url, f"/api/calls/{sid}/events").start(client)
                for n in range(60)
            ]
            for viewer in viewers:
                await viewer.wait_for(is_event("snapshot"), timeout=15)
            await sim.wait_for_connections(f"call:{sid}", 1)
            for n in range(10):
                sim.add_segment(sid, "user" if n % 2 else "assistant", f"line {n}")
            for viewer in viewers:
                await viewer.wait_for(has_segment("line 9"))
            assert sim.connections_peak(f"call:{sid}") == 1  # a reconnect is not a second
            expected = transcript(viewers[0])
            assert len(expected) == 10
            for viewer in viewers[1:]:
                assert transcript(viewer) == expected  # same ids on every node, same bytes
            assert segments(viewers[1].events) == [f"line {n}" for n in range(10)]
            for viewer in viewers:
                await viewer.stop()


async def test_a_viewer_resumes_on_another_node_with_exactly_the_missed_events(
    sim: Simulator, server: RedisServer
) -> None:
    sid = sim.add_call()
    async with nodes(sim, server, 2) as (a, b), bearer(await a.token(Role.ADMIN)) as client:
        first = Viewer(a.url, f"/api/calls/{sid}/events").start(client)
        await first.wait_for(is_event("snapshot"))
        sim.add_segment(sid, "assistant", "before")
        await first.wait_for(has_segment("before"))
        await first.stop()
        for text in ("missed 1", "missed 2"):
            sim.add_segment(sid, "user", text)
        keeper = Viewer(a.url, f"/api/calls/{sid}/events").start(client)
        await keeper.wait_for(has_segment("missed 2"))
        resumed = Viewer(b.url, f"/api/calls/{sid}/events", last_id=first.last_id)
        resumed.start(client)
        await resumed.wait_for(has_segment("missed 2"))
        kinds = [e.event for e in resumed.events if e.event != "status"]
        assert "snapshot" not in kinds and "reset" not in kinds
        assert segments(first.events + resumed.events) == ["before", "missed 1", "missed 2"]
        assert resumed.last_id == keeper.last_id  # node b numbers as node a does
        await keeper.stop()
        await resumed.stop()


async def test_a_multiplexed_viewer_resumes_on_another_node(
    sim: Simulator, server: RedisServer
) -> None:
    one, two = sim.add_call(), sim.add_call()
    path = f"/api/events?call={one}&call={two}"
    async with nodes(sim, server, 2) as (a, b), bearer(await a.token(Role.ADMIN)) as client:
        first = Viewer(a.url, path).start(client)
        await first.wait_for(is_event("snapshot", stream=f"call:{two}"))
        sim.add_segment(one, "user", "one before")
        await first.wait_for(has_segment("one before"))
        await first.stop()
        sim.add_segment(one, "user", "one missed")
        sim.add_segment(two, "user", "two missed")
        assert first.last_id is not None
        resumed = Viewer(b.url, path, last_id=first.last_id).start(client)
        await resumed.wait_for(has_segment("one missed"))
        await resumed.wait_for(has_segment("two missed"))
        kinds = [e.event for e in resumed.events]
        assert "snapshot" not in kinds and "reset" not in kinds  # exactly the missed events
        assert segments(resumed.events) == ["one missed", "two missed"]
        keys = [StreamKey.call(one), StreamKey.call(two)]
        epochs = {key: a.hub.streams[key].log.epoch for key in keys}
        assert epochs == {key: b.hub.streams[key].log.epoch for key in keys}  # the cluster's
        at = cursor.decode(resumed.last_id, keys, epochs.get)
        assert cursor.UNRESUMABLE not in at.values() and None not in at.values()
        await resumed.stop()


async def test_a_token_revoked_on_one_node_is_refused_on_the_other_at_once(
    sim: Simulator, server: RedisServer
) -> None:
    async with nodes(sim, server, 2) as (a, b):
        token = await a.token(Role.ADMIN)
        async with bearer(token) as client:
            path = "/metrics"  # a token's route that answers at once
            assert (await client.get(b.url + path)).status_code == 200
            name = next(t.name for t in await a.state.access.tokens.list())
            await a.state.access.tokens.revoke(name)
            assert (await client.get(b.url + path)).status_code == 401


async def test_a_stopped_holder_hands_its_stream_to_another_node_losing_nothing(
    sim: Simulator, server: RedisServer
) -> None:
    sid = sim.add_call()
    async with nodes(sim, server, 2) as (a, b), bearer(await a.token(Role.ADMIN)) as client:
        on_a = Viewer(a.url, f"/api/calls/{sid}/events").start(client)
        await on_a.wait_for(is_event("snapshot"))
        await sim.wait_for_connections(f"call:{sid}", 1)
        on_b = Viewer(b.url, f"/api/calls/{sid}/events").start(client)
        sim.add_segment(sid, "user", "one")
        await on_b.wait_for(has_segment("one"))
        holder, other = (a, b) if a.hub.streams[StreamKey.call(sid)].runs_upstream else (b, a)
        viewer = on_b if other is b else on_a
        await (on_a if holder is a else on_b).stop()
        await holder.hub.close()  # the holder leaves: it hands the lease over
        sim.add_segment(sid, "assistant", "two")
        await viewer.wait_for(has_segment("two"), timeout=10)
        sim.add_segment(sid, "user", "three")
        await viewer.wait_for(has_segment("three"))
        assert segments(viewer.events) == ["one", "two", "three"]
        await sim.wait_for_connections(f"call:{sid}", 1)
        await viewer.stop()


async def test_a_line_spoken_during_a_takeovers_replay_comes_first_and_the_rest_fill_in(
    sim: Simulator, server: RedisServer
) -> None:
    """What the double kill -9 test once reported as "lost" lines, forced: the new holder's
    upstream registers, Burki starts its (slow) replay, and a live line lands in it. Viewers
    get that line first, at the index the state then had, and the older lines Burki
    replays afterwards are inserted before it: at that moment a viewer holds the early lines
    and the last one only, and a moment later every line, in order, once each."""
    sid = sim.add_call()
    key, lines = f"call:{sid}", [f"line {n}" for n in range(11)]
    async with (
        nodes(sim, server, 3) as cluster,
        bearer(await cluster[0].token(Role.ADMIN)) as client,
    ):
        viewers = [Viewer(n.url, f"/api/calls/{sid}/events").start(client) for n in cluster]
        for viewer in viewers:  # each gets every line as an event, none in its snapshot
            await viewer.wait_for(is_event("snapshot"), timeout=10)
        await viewers[0].wait_for(is_live)
        for n, line in enumerate(lines[:5]):
            sim.add_segment(sid, "user" if n % 2 else "assistant", line)
        for viewer in viewers:
            await viewer.wait_for(holds_all(viewer, lines[:5]))
        for n, line in enumerate(lines[5:10], start=5):  # said while the dashboard is away
            sim.store.add_segment(sid, "user" if n % 2 else "assistant", line, True, 0.9)
        holder = next(n for n in cluster if n.hub.streams[StreamKey.call(sid)].runs_upstream)
        stays = [v for n, v in zip(cluster, viewers, strict=True) if n is not holder]
        await viewers[cluster.index(holder)].stop()
        sim.faults.replay_delay = 0.2  # the next holder's replay takes ~2 s
        await holder.hub.close()  # hands the lease over
        await sim.wait_for_connections(key, 0)
        await sim.wait_for_connections(key, 1, timeout=10)  # registered: the replay begins
        sim.add_segment(sid, "user", lines[10])
        for viewer in stays:
            last = await viewer.wait_for(has_segment(lines[10]), timeout=10)
            assert data(last)["segment"]["index"] == 5  # where the replay stood
            shown = placed(viewer.events[: viewer.events.index(last) + 1])
            assert shown == [*lines[:5], lines[10]]  # the picture the report took for a loss
            await viewer.wait_for(holds_all(viewer, lines), timeout=10)
            assert placed(viewer.events) == lines  # every line, in order, once
        assert transcript(stays[0]) == transcript(stays[1])  # the same ids on both nodes
        # One upstream at a time: the holder's, then the next one's (a reconnect under load
        # may add another after them, never beside them).
        assert sim.connections_peak(key) == 1
        assert sim.connections_total(key) >= 2
        for viewer in stays:
            await viewer.stop()


class HeldBack(Bus):
    """A node's client of the shared store whose reads wait for ``let_go``: its replica stays
    behind the log (a slow node), while the lease and publishing work as ever."""

    def __init__(self, url: str, node: str) -> None:
        super().__init__(
            Redis.from_url(url, decode_responses=True),
            configs.bus(node, LEASE, secret=SESSION_SECRET),
        )
        self.let_go = asyncio.Event()
        self.took = asyncio.Event()  # a tick gave this node the lease

    async def read(self, stream: str, after: str, count: int = 500) -> list[Entry]:
        await self.let_go.wait()
        return await super().read(stream, after, count)

    async def tick(self, stream: str, value: str | None, ttl_ms: int | None = None) -> Tick:
        tick = await super().tick(stream, value, ttl_ms)
        if tick.mine:
            self.took.set()
        return tick


async def earlier_holder_published(server: RedisServer, key: StreamKey) -> None:
    """An earlier holder of ``key`` published an input, then left: a next holder has a log
    to read before it may run the upstream."""
    before = Bus(
        Redis.from_url(server.url, decode_responses=True),
        configs.bus("node-0", LEASE, secret=SESSION_SECRET),
    )
    lease = await before.tick(str(key), None)
    assert await before.publish(str(key), lease.value, codec.encode(PollBatch()))
    await before.release(str(key), lease.value)
    await before.close()


@asynccontextmanager
async def hub_of(sim: Simulator, bus: Bus) -> AsyncIterator[Hub]:
    """One node's hub on ``bus`` alone (no web app), reading ``sim``; closed on exit."""
    async with BurkiRest(sim.base_url, SIM_KEY) as rest:
        sharing = Integrations(sharing=Cluster(bus))
        hub = Hub(Sources(upstream_config(sim), rest), configs.relay(), Metrics(), sharing)
        try:
            yield hub
        finally:
            await hub.close()
            await bus.close()


async def test_a_new_holder_behind_the_log_decides_nothing_until_it_has_read_it(
    sim: Simulator, server: RedisServer
) -> None:
    """A node that takes the lease runs no upstream until it has read the shared log to its
    end. Meanwhile it must not apply a claim (nor a timer's input) by feeding it to itself
    alone: that frame would exist on this node only, every later id here would be one ahead
    of every other node's, and a viewer resuming across nodes would skip a frame. The claim
    is asked for instead, and published once the node has read the log."""
    sid = sim.add_call()
    key = StreamKey.call(sid)
    await earlier_holder_published(server, key)
    held = HeldBack(server.url, "node-2")
    async with hub_of(sim, held) as hub:
        stream = hub.stream(key)
        await asyncio.wait_for(held.took.wait(), 10)
        assert stream.runs_upstream  # the lease is this node's, the log still unread
        claiming = asyncio.create_task(stream.claim("claim", "ada"))
        assert await held.redis.xread({f"burki:req:{key}": "0"}, 1, 10_000)  # asked for
        assert len(stream.log) == 0 and stream.claims.snapshot() is None  # not fed here
        assert await held.redis.xlen(f"burki:in:{key}") == 1
        held.let_go.set()  # it reads the log, runs the upstream, publishes the claim
        claim = await asyncio.wait_for(claiming, 10)
        assert claim is not None and claim["by"] == "ada"
        assert await held.redis.xlen(f"burki:in:{key}") > 1  # published, for every node


async def test_a_request_is_published_once_by_whichever_node_holds_the_stream_next(
    sim: Simulator, server: RedisServer
) -> None:
    """A claim asked for while the holder cannot publish yet waits for it; once published
    (marked with the request's id), the next holder goes on after it instead of again."""
    sid = sim.add_call()
    key = StreamKey.call(sid)
    asker = Bus(
        Redis.from_url(server.url, decode_responses=True),
        configs.bus("node-9", LEASE, secret=SESSION_SECRET),
    )
    await earlier_holder_published(server, key)
    held = HeldBack(server.url, "node-1")
    async with hub_of(sim, held) as hub:
        hub.stream(key)
        await asyncio.wait_for(held.took.wait(), 10)
        # Asked while the holder has not read the log to its end: it waits.
        ada = await asker.request(str(key), codec.encode(ClaimMade("claim", "ada", False, "")))
        assert await _answers(asker, str(key), ada) == 0
        held.let_go.set()  # it reads the log, runs the upstream, then serves the request
        await _answered(asker, str(key), ada)
    nxt = Bus(
        Redis.from_url(server.url, decode_responses=True),
        configs.bus("node-2", LEASE, secret=SESSION_SECRET),
    )
    async with hub_of(sim, nxt) as hub:
        stream = hub.stream(key)
        await sim.wait_for_connections(str(key), 1, timeout=10)  # the next holder runs
        bob = await asker.request(str(key), codec.encode(ClaimMade("claim", "bob", False, "")))
        await _answered(asker, str(key), bob)  # served in order: ada's would come first
        assert await _answers(asker, str(key), ada) == 1  # published once, not again
        assert stream.claims.snapshot() == {"by": "bob", "kind": "claim", "at": ""}
    await asker.close()


async def _answers(bus: Bus, stream: str, req: str) -> int:
    """How many inputs in the stream's log answer request ``req``."""
    return sum(1 for entry in await bus.read(stream, "0", 10_000) if entry.req == req)


async def _answered(bus: Bus, stream: str, req: str) -> None:
    """Until an input in the stream's log answers ``req`` (reads wait for new inputs)."""
    async with asyncio.timeout(10):
        after = "0"
        while True:
            entries = await bus.read(stream, after)
            if any(entry.req == req for entry in entries):
                return
            after = entries[-1].id if entries else after


async def test_a_timed_input_is_dropped_when_its_node_can_no_longer_publish() -> None:
    """A holder's timer decided (dead air, quiet call, hold ran out), then its upstream
    stopped before the publication ran: nothing is fed here alone; the next holder decides."""
    published: list[Input] = []

    async def publish(item: Input) -> None:
        published.append(item)

    fed: list[Input] = []
    can: list[Feed | None] = [publish]
    timed = TimedInputs(StreamKey.call("CA1"), True, fed.append, lambda: can[0])
    timed.decide(WentQuiet())
    can[0] = None  # the lease moved before the publication's task ran
    await asyncio.gather(*timed.tasks())
    timed.decide(HealthDue(1.0))  # and while it cannot publish, it decides nothing
    assert timed.tasks() == [] and published == [] and fed == []


async def test_a_holders_stream_closes_at_once_even_when_cancelled_mid_publish(
    sim: Simulator, server: RedisServer
) -> None:
    """Closed as its new upstream publishes Burki's greeting, a holder's stream ends its
    upstream at once. Python 3.11's ``wait_for`` inside redis-py swallowed that cancellation:
    the upstream ran on, the close hung until the lease ran out and an item came after."""
    sid = sim.add_call()
    key = str(StreamKey.call(sid))
    bus = Bus(
        Redis.from_url(server.url, decode_responses=True),
        configs.bus("node-1", 30.0, secret=SESSION_SECRET),
    )
    async with hub_of(sim, bus) as hub:
        hub.stream(StreamKey.call(sid))
        await sim.wait_for_connections(key, 1, timeout=10)  # it publishes what Burki sends
        await asyncio.wait_for(hub.close(), 5)  # far less than the 30 s lease
        await sim.wait_for_connections(key, 0)


@pytest.mark.parametrize("keeps_data", [True, False], ids=["append-only", "data-lost"])
async def test_redis_restarted_mid_call_viewers_see_reconnecting_and_recover(
    sim: Simulator, server: RedisServer, keeps_data: bool
) -> None:
    sid = sim.add_call()
    async with nodes(sim, server, 2) as (a, b), bearer(await a.token(Role.ADMIN)) as client:
        viewers = [Viewer(n.url, f"/api/calls/{sid}/events").start(client) for n in (a, b)]
        sim.add_segment(sid, "user", "before")
        for viewer in viewers:
            await viewer.wait_for(has_segment("before"))
        server.stop()
        for viewer in viewers:
            await viewer.wait_for(is_event("status", state="reconnecting"), timeout=10)
        # No node can renew its lease: none may keep an upstream open.
        await sim.wait_for_connections(f"call:{sid}", 0, timeout=10)
        ready = await client.get(a.url + "/readyz")
        assert ready.status_code == 503
        sim.add_segment(sid, "assistant", "during")
        if not keeps_data:  # a Redis without persistence comes back empty
            for path in server.folder.rglob("*"):
                if path.is_file():
                    path.unlink()
        await asyncio.to_thread(server.start)
        sim.add_segment(sid, "user", "after")
        for viewer in viewers:
            await viewer.wait_for(has_segment("after"), timeout=15)
            assert segments(viewer.events) == ["before", "during", "after"]
        assert (await client.get(a.url + "/readyz")).status_code == 200
        await sim.wait_for_connections(f"call:{sid}", 1)
        for viewer in viewers:
            await viewer.stop()


async def test_a_node_that_lost_its_lease_can_never_publish(server: RedisServer) -> None:
    a = Bus.connect(server.url, configs.bus("a", 1.0, secret=SESSION_SECRET))
    b = Bus.connect(server.url, configs.bus("b", 1.0, secret=SESSION_SECRET))
    try:
        held = await a.tick("call:CAx", None)
        assert held.mine
        assert await a.publish("call:CAx", held.value, '"one"')
        assert not (await b.tick("call:CAx", None)).mine  # held: b waits
        await a.redis.delete("burki:lease:call:CAx")  # as if a's lease ran out while it slept
        taken = await b.tick("call:CAx", None)
        assert taken.mine and taken.value != held.value
        assert not await a.publish("call:CAx", held.value, '"stale"')  # fenced off
        assert not (await a.tick("call:CAx", held.value)).mine
        entries = await b.read("call:CAx", "0")
        assert [entry.payload for entry in entries] == ['"one"']
    finally:
        await a.close()
        await b.close()


async def test_a_wallboard_resumes_on_another_node_and_sign_out_ends_it_on_both(
    sim: Simulator, server: RedisServer
) -> None:
    sid = sim.add_call()
    sim.add_segment(sid, "user", "first words")
    async with nodes(sim, server, 2) as (a, b), httpx.AsyncClient(timeout=10) as client:
        await a.state.access.users.add("ada", PASSWORD, Role.SUPERVISOR)
        assert (await sign_in(a, client, PASSWORD)).status_code == 303  # on node a
        assert (await client.get(a.url + "/wallboard")).status_code == 200
        board = Viewer(a.url, "/wallboard/updates").start(client)
        sim.add_segment(sid, "assistant", "seen words")
        await board.wait_for(lambda e: "seen words" in e.data)
        await board.stop()
        sim.add_segment(sid, "assistant", "missed words")
        resumed = Viewer(b.url, "/wallboard/updates", last_id=board.last_id)
        resumed.start(client, query_resume=True)  # as htmx reconnects: the id in the query
        await resumed.wait_for(lambda e: "missed words" in e.data)
        assert not any("beforeend" in e.data for e in resumed.events)  # no card added twice
        assert not any("first words" in e.data and "missed" not in e.data for e in resumed.events)
        await resumed.stop()
        csrf = re.search(r'name="csrf" value="([^"]+)"', (await client.get(a.url + "/")).text)
        assert csrf
        await client.post(a.url + "/signout", data={"csrf": csrf[1]})
        gone = await client.get(b.url + "/wallboard", follow_redirects=False)
        assert gone.status_code == 303  # the session ended on node a is refused on node b


async def test_webhooks_are_posted_once_by_the_holder_whatever_the_nodes_showing_it(
    sim: Simulator, server: RedisServer
) -> None:
    sid = sim.add_call()
    async with receiving() as receiver:
        hooks = {"webhook_endpoints": endpoints(receiver.url, "alert", "call_status")}
        async with (
            nodes(sim, server, 3, **hooks) as cluster,
            bearer(await cluster[0].token(Role.ADMIN)) as client,
        ):
            viewers = [Viewer(n.url, f"/api/calls/{sid}/events").start(client) for n in cluster]
            for viewer in viewers:
                await viewer.wait_for(is_live)
            sim.add_segment(sid, "user", ANGRY[0])
            for viewer in viewers:
                await viewer.wait_for(is_event("alert"))
            sim.set_call_status(sid, "completed")
            for viewer in viewers:
                await viewer.wait_for(is_event("end"))
            for node in cluster:
                assert node.state.webhooks is not None
                await node.state.webhooks.wait_idle()
            for viewer in viewers:
                await viewer.stop()
    posted = [(r.json["type"], r.json["id"]) for r in receiver.requests]
    assert [t for t, _ in posted].count("alert") == 1, posted  # one post, not one per node
    assert len(posted) == len(set(posted)), posted


async def test_sign_in_failures_on_every_node_count_against_one_limit(
    sim: Simulator, server: RedisServer
) -> None:
    async with nodes(sim, server, 2) as (a, b), httpx.AsyncClient(timeout=10) as client:
        await a.state.access.users.add("ada", PASSWORD, Role.SUPERVISOR)
        answers = [
            (await sign_in(node, client, "wrong password")).status_code
            for node in (a, b, a, b, a)  # five failures: the per-user limit, spread
        ]
        assert answers == [401] * 5
        assert (await sign_in(b, client, PASSWORD)).status_code == 429  # b saw only two


async def test_one_node_polls_the_directory_and_the_others_read_its_lists(
    sim: Simulator, server: RedisServer
) -> None:
    async with nodes(sim, server, 2) as (a, b):
        before = sim.rest.served["/api/v1/calls"]
        for _ in range(5):
            await a.state.tenants.first.directory.refresh()
            await b.state.tenants.first.directory.refresh()
        assert sim.rest.served["/api/v1/calls"] - before == 5  # node a's polls only
        sid = sim.add_call()
        await a.state.tenants.first.directory.refresh()
        await b.state.tenants.first.directory.refresh()
        assert sid in [call.call_sid for call in b.state.tenants.first.directory.calls]


async def test_the_audit_log_holds_every_nodes_entries_and_any_node_exports_them(
    sim: Simulator, server: RedisServer
) -> None:
    sid = sim.add_call()
    async with nodes(sim, server, 2) as (a, b), httpx.AsyncClient(timeout=10) as admin:
        await a.state.access.users.add("ada", PASSWORD, Role.ADMIN)
        assert (await sign_in(a, admin, PASSWORD)).status_code == 303
        for node, name in ((a, "opened-on-a"), (b, "opened-on-b")):
            token = await node.state.access.tokens.create(name, Role.ADMIN)
            async with (
                bearer(token) as client,
                client.stream("GET", f"{node.url}/api/calls/{sid}/events") as opened,
            ):
                assert opened.status_code == 200
        for node in (a, b):
            export = await admin.get(f"{node.url}/admin/audit.csv")
            assert export.status_code == 200
            assert "opened-on-a" in export.text and "opened-on-b" in export.text


async def test_a_users_stream_cap_holds_across_nodes_under_concurrent_opens(
    sim: Simulator, server: RedisServer
) -> None:
    """Eight streams of one user opened at once, four on each node, with a cap of three per
    user: three open in all, not three per node."""
    sid = sim.add_call()
    path = f"/api/calls/{sid}/events"
    caps = {"dashboard_streams_per_user": 3}
    async with (
        nodes(sim, server, 2, **caps) as (a, b),
        bearer(await a.token(Role.ADMIN)) as client,
        contextlib.AsyncExitStack() as stack,
    ):
        opening = [client.stream("GET", n.url + path) for n in [a, b] * 4]
        answers = await asyncio.gather(*map(stack.enter_async_context, opening))
        assert Counter(answer.status_code for answer in answers) == Counter({200: 3, 429: 5})
        refused = next(answer for answer in answers if answer.status_code == 429)
        await refused.aread()
        assert "3 streams open" in refused.json()["message"]


async def test_multiplexed_streams_count_one_by_one_against_a_cap_shared_by_nodes(
    sim: Simulator, server: RedisServer
) -> None:
    """Eight multiplexed requests of one user at once, two calls each, half on each node,
    with a cap of three per user: one opens (two places), none of the others fits."""
    sids = [sim.add_call() for _ in range(2)]
    path = f"/api/events?call={sids[0]}&call={sids[1]}"
    async with (
        nodes(sim, server, 2, dashboard_streams_per_user=3) as (a, b),
        bearer(await a.token(Role.ADMIN)) as client,
        contextlib.AsyncExitStack() as stack,
    ):
        opening = [client.stream("GET", n.url + path) for n in [a, b] * 4]
        answers = await asyncio.gather(*map(stack.enter_async_context, opening))
        assert Counter(answer.status_code for answer in answers) == Counter({200: 1, 429: 7})
        redis = Redis.from_url(server.url, decode_responses=True)
        try:
            users = [key async for key in redis.scan_iter("burki:streams:user:*")]
            assert [await redis.zcard(key) for key in users] == [2]  # a place per stream
        finally:
            await redis.aclose()


async def test_a_released_place_is_free_at_once_and_a_dead_nodes_run_out(
    server: RedisServer,
) -> None:
    limits = Limits(per_session=5, per_user=2, total=100)
    one = RedisStreamCaps(Redis.from_url(server.url, decode_responses=True), limits)
    two = RedisStreamCaps(Redis.from_url(server.url, decode_responses=True), limits, ttl=0.5)
    try:
        first = await one.take("ada", None)
        assert first is not None
        dying = await two.take("ada", "s1")  # its node will stop renewing: dead
        assert dying is not None
        with pytest.raises(CapReached):
            await one.take("ada", None)
        await first.release()
        again = await one.take("ada", None)  # released: free at once
        assert again is not None
        with pytest.raises(CapReached):
            await one.take("ada", None)
        await two.close()  # its node stops renewing, as a killed one does
        await asyncio.sleep(0.6)  # the ticket's time to live: what a dead node's place costs
        assert await one.take("ada", None) is not None
    finally:
        await one.close()


async def test_a_quiet_call_is_marked_once_by_the_holder_under_one_id_on_every_node(
    sim: Simulator, server: RedisServer
) -> None:
    sid = sim.add_call()
    quick = {"relay_no_activity_minutes": 0.005}  # 0.3 s
    async with (
        nodes(sim, server, 2, **quick) as (a, b),
        bearer(await a.token(Role.ADMIN)) as client,
    ):
        viewers = [Viewer(n.url, f"/api/calls/{sid}/events").start(client) for n in (a, b)]
        marks = [await v.wait_for(is_event("call_status", no_activity=True)) for v in viewers]
        assert marks[0].id == marks[1].id and marks[0].data == marks[1].data
        for viewer in viewers:
            await viewer.stop()


async def test_a_held_card_number_is_released_alike_on_every_node(
    sim: Simulator, server: RedisServer
) -> None:
    sid = sim.add_call()
    async with (
        nodes(sim, server, 2, redaction_hold=0.2) as (a, b),
        bearer(await a.token(Role.ADMIN)) as client,
    ):
        viewers = [Viewer(n.url, f"/api/calls/{sid}/events").start(client) for n in (a, b)]
        for viewer in viewers:
            await viewer.wait_for(is_live)
        sim.add_segment(sid, "user", "my card is 4111 1111")
        for viewer in viewers:
            await viewer.wait_for(has_segment("my card is [digits]"))
        sim.add_segment(sid, "user", "1111 1111, sorry")
        for viewer in viewers:
            await viewer.wait_for(has_segment("[card ••••1111], sorry"))
        first, second = (transcript(v) for v in viewers)
        assert first == second  # the hold ran out at the same place among the inputs
        assert segments(viewers[0].events) == ["my card is [digits]", "[card ••••1111], sorry"]
        for viewer in viewers:
            await viewer.stop()


@pytest.mark.parametrize("on_holder", [True, False], ids=["on-the-holder", "on-another-node"])
async def test_an_ended_call_is_told_under_one_id_on_every_node(
    sim: Simulator, server: RedisServer, on_holder: bool
) -> None:
    """Ending a call is told to every viewer once, under one id, whichever node the person's
    request reached: one that does not hold the call asks the holder to publish it."""
    sid = sim.add_call()
    key = StreamKey.call(sid)
    async with nodes(sim, server, 2) as (a, b), bearer(await a.token(Role.ADMIN)) as client:
        viewers = [Viewer(n.url, f"/api/calls/{sid}/events").start(client) for n in (a, b)]
        for viewer in viewers:
            await viewer.wait_for(is_live)
        holder = next(n for n in (a, b) if n.hub.streams[key].runs_upstream)
        node = holder if on_holder else (b if holder is a else a)
        async with node.client(Role.SUPERVISOR, timeout=10) as ada:
            token = await csrf_of(ada, f"{node.url}/calls/{sid}/end")
            done = await ada.post(f"{node.url}/calls/{sid}/end", data={"csrf": token})
            assert done.status_code == 303
        told = [await v.wait_for(is_event("action", outcome="asked")) for v in viewers]
        assert told[0].id == told[1].id and told[0].data == told[1].data
        for viewer in viewers:
            await viewer.wait_for(is_event("end"), timeout=10)
            await viewer.stop()
        first, second = ([(e.id, e.data) for e in v.events if e.event == "action"] for v in viewers)
        assert first == second and len(set(first)) == len(first)  # alike, each once
