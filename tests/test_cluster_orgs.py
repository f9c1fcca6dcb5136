"""Several organisations on a cluster of nodes (real redis-server, one simulator serving two
organisations with their own keys): each organisation's directory, monitoring, streams and
sealed values are its own on every node, and no request uses one's key for the other's ids."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack

import httpx
import pytest
from redis.asyncio import Redis
from starlette.requests import HTTPConnection

from tests.cluster import flush, nodes, redis_module
from tests.conftest import SIM_KEY
from tests.hubs import frames_until
from tests.live import LiveApp
from tests.orgcluster import serving_org
from tests.redisserver import RedisServer
from tests.test_org_monitoring import monitoring_of, node_counts
from webapp.access.auth import Principal
from webapp.access.users import Role, Roles
from webapp.cluster import codec
from webapp.cluster.booknews import CHANNEL, SPACING, BookNews
from webapp.cluster.bus import Bus, BusConfig
from webapp.cluster.monitoring import RedisPlacement
from webapp.orgs.model import Org
from webapp.orgs.tenants import UnknownOrg
from webapp.pages.state import record
from webapp.relay.frames import Frame
from webapp.relay.hub import Viewing
from webapp.simulator import Simulator
from webapp.wire.failures import Failure, FailureKind
from webapp.wire.streamkey import StreamKey
from webapp.wire.upstream import GaveUp, Reconnecting

__all__ = ["redis_module"]

ACME_KEY = "sim-key-acme-7c41d2"


@pytest.fixture
def server(redis_module: RedisServer) -> Iterator[RedisServer]:
    flush(redis_module)
    yield redis_module


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """One Burki serving two organisations: the default one (``SIM_KEY``) and ``acme``."""
    orgs = {"default": SIM_KEY, "acme": ACME_KEY}
    async with Simulator(orgs=orgs, autoplay=False) as simulator:
        yield simulator


@pytest.fixture
def acme_sim(sim: Simulator) -> Simulator:
    """Organisation ``acme``'s world on the same simulator."""
    return sim.org("acme")


@pytest.fixture
async def acme_elsewhere() -> AsyncIterator[Simulator]:
    """acme on a Burki of its own (an organisation names its own base URL): there a call
    id may be one the default organisation's Burki has too."""
    async with Simulator(orgs={"acme": ACME_KEY}, autoplay=False) as simulator:
        yield simulator


def acme(sim: Simulator) -> Org:
    return Org("acme", "Acme Support", sim.base_url)


def asked_with_the_wrong_key(sim: Simulator, ids: dict[str, str]) -> list[str]:
    """Requests the simulator logged naming an id (``ids``: id -> its organisation) with
    another organisation's key."""
    return [
        f"{entry.org} {entry.path}"
        for ident, org in ids.items()
        for entry in sim.requests.naming(ident)
        if entry.org != org
    ]


async def test_each_organisations_directory_shows_its_own_calls_on_every_node(
    sim: Simulator, acme_sim: Simulator, server: RedisServer
) -> None:
    ours, theirs = sim.add_call(), acme_sim.add_call("CAacme0000000000000000000000000001")
    async with nodes(sim, server, 2) as (a, b), serving_org([a, b], acme(acme_sim), ACME_KEY):
        before, acme_before = (
            sim.rest.served["/api/v1/calls"],
            acme_sim.rest.served["/api/v1/calls"],
        )
        for _ in range(3):  # node a polls the default organisation, node b acme's
            await a.state.tenants.get("default").directory.refresh()
            await b.state.tenants.get("acme").directory.refresh()
            await b.state.tenants.get("default").directory.refresh()
            await a.state.tenants.get("acme").directory.refresh()
        for node in (a, b):
            default, other = node.state.tenants.get("default"), node.state.tenants.get("acme")
            assert [c.call_sid for c in default.directory.calls] == [ours]
            assert [c.call_sid for c in other.directory.calls] == [theirs]
        # One poller per organisation, each with its own key: three polls each, not six.
        assert sim.rest.served["/api/v1/calls"] - before == 3
        assert acme_sim.rest.served["/api/v1/calls"] - acme_before == 3
        polls = [e.org for e in sim.requests if e.path.startswith("/api/v1/calls")]
        assert sorted(set(polls)) == ["acme", "default"]
        assert asked_with_the_wrong_key(sim, {ours: "default", theirs: "acme"}) == []


async def test_a_listing_sealed_for_one_organisation_is_refused_under_anothers_key(
    sim: Simulator, acme_sim: Simulator, server: RedisServer
) -> None:
    ours, theirs = sim.add_call(), acme_sim.add_call("CAacme0000000000000000000000000001")
    async with nodes(sim, server, 2) as (a, b), serving_org([a, b], acme(acme_sim), ACME_KEY):
        await a.state.tenants.get("acme").directory.refresh()  # a polls acme and stores its lists
        redis = Redis.from_url(server.url, decode_responses=True)
        try:
            sealed = await redis.get("burki:acme/directory")
            assert sealed is not None
            # An attacker copies acme's lists to the default organisation's key, and holds the
            # default organisation's poller lease so that nodes read the copy.
            await redis.set("burki:directory", sealed, px=60_000)
            await redis.set("burki:lease:directory", "node-9:1", px=60_000)
        finally:
            await redis.aclose()
        store = b.state.store
        assert store is not None
        refused = store.refused["directory"]
        polls = sim.rest.served["/api/v1/calls"]
        await b.state.tenants.get("default").directory.refresh()
        assert [c.call_sid for c in b.state.tenants.get("default").directory.calls] == [ours]
        assert theirs not in [c.call_sid for c in b.state.tenants.get("default").directory.calls]
        assert store.refused["directory"] == refused + 1  # logged and counted
        assert sim.rest.served["/api/v1/calls"] == polls + 1  # b polled its own Burki instead


async def test_a_node_counts_its_share_of_each_organisations_monitoring_apart(
    server: RedisServer,
) -> None:
    def bus(node: str) -> Bus:
        config = BusConfig(node, lease_seconds=6.0, log_entries=100, secret="s" * 32)
        return Bus.connect(server.url, config)

    one, two = bus("node-1"), bus("node-2")
    try:
        calls = [StreamKey.call(f"CA{n}") for n in range(4)]
        acme_calls = [StreamKey.call(f"CA{n}", "acme") for n in range(2)]
        # node-2 monitors acme only (it serves no other organisation yet); node-1 both.
        await RedisPlacement(two, "acme").survey(acme_calls, 2)
        acme_one = await RedisPlacement(one, "acme").survey(acme_calls, 0)
        default_one = await RedisPlacement(one).survey(calls, 4)
        assert acme_one.nodes == 2 and acme_one.counts == {"node-1": 0, "node-2": 2}
        # The default organisation's streams are node-1's alone: node-2 takes no share of them.
        assert default_one.nodes == 1 and default_one.counts == {"node-1": 4}
    finally:
        await one.close()
        await two.close()


def said(frames: list[Frame]) -> list[str]:
    """The transcript lines among ``frames``, in order."""
    return [str(f.data["segment"]["content"]) for f in frames if f.type == "transcript"]


async def test_the_same_call_id_in_two_organisations_is_two_streams_with_one_upstream_each(
    sim: Simulator, acme_elsewhere: Simulator, server: RedisServer
) -> None:
    sid = "CA" + "5" * 32  # Burki accounts name their calls apart; a clash must not mix them
    sim.add_call(sid)
    acme_elsewhere.add_call(sid)
    ours, theirs = StreamKey.call(sid), StreamKey.call(sid, "acme")
    async with (
        nodes(sim, server, 3) as cluster,
        serving_org(cluster, acme(acme_elsewhere), ACME_KEY),
    ):
        with ExitStack() as stack:
            viewings = [stack.enter_context(n.hub.watch([ours, theirs], {})) for n in cluster]
            await asyncio.gather(*(n.hub.ready([ours, theirs]) for n in cluster))
            await sim.wait_for_connections(f"call:{sid}", 1)
            await acme_elsewhere.wait_for_connections(f"call:{sid}", 1)
            sim.add_segment(sid, "user", "default said this")
            acme_elsewhere.add_segment(sid, "user", "acme said that")
            seen = [
                await frames_until(v.sub, lambda f: "acme said that" in said([f]), timeout=10)
                for v in viewings
            ]
            # Each organisation's stream: its own upstream, with its own key, once in the cluster.
            assert sim.connections_total(f"call:{sid}") == 1
            assert acme_elsewhere.connections_total(f"call:{sid}") == 1
            for frames in seen:
                mine = [f for f in frames if f.stream == ours]
                other = [f for f in frames if f.stream == theirs]
                assert "acme said that" not in said(mine)
                assert "default said this" not in said(other)
                assert said(other) == ["acme said that"]
            for burki, org in ((sim, "default"), (acme_elsewhere, "acme")):  # each its own key
                assert [e.org for e in burki.requests.naming(sid) if e.channel == "ws"] == [org]
            ids = [
                [f.id for f in frames if f.stream == theirs and f.type == "transcript"]
                for frames in seen
            ]
            assert ids[0] == ids[1] == ids[2]  # one id names one frame on every node


async def test_a_node_that_has_not_read_an_organisation_yet_opens_nothing_of_it(
    sim: Simulator, acme_sim: Simulator, server: RedisServer
) -> None:
    sid = acme_sim.add_call("CAacme0000000000000000000000000002")
    theirs = StreamKey.call(sid, "acme")
    async with nodes(sim, server, 2) as (a, b), serving_org([a], acme(acme_sim), ACME_KEY):
        with a.hub.watch([theirs], {}):
            await a.hub.ready([theirs])
            await acme_sim.wait_for_connections(f"call:{sid}", 1)
            with pytest.raises(UnknownOrg), b.hub.watch([theirs], {}):
                pass
            assert theirs not in b.hub.streams  # no stream, no replica, no upstream on b
            assert acme_sim.connections_total(f"call:{sid}") == 1
            store = b.state.store
            assert store is not None
            assert store.refused.total() == 0


async def test_an_input_of_one_organisations_stream_copied_to_anothers_opens_on_no_node(
    sim: Simulator, acme_elsewhere: Simulator, server: RedisServer
) -> None:
    """The same call id in both organisations, and an attacker copying acme's sealed inputs
    (numbered as the default organisation's next ones) into the default stream's log."""
    sid = "CA" + "6" * 32
    sim.add_call(sid)
    acme_elsewhere.add_call(sid)
    ours, theirs = StreamKey.call(sid), StreamKey.call(sid, "acme")
    async with (
        nodes(sim, server, 2) as cluster,
        serving_org(cluster, acme(acme_elsewhere), ACME_KEY),
    ):
        with ExitStack() as stack:
            viewings = [stack.enter_context(n.hub.watch([ours, theirs], {})) for n in cluster]
            seen: list[list[Frame]] = [[] for _ in viewings]
            await asyncio.gather(*(n.hub.ready([ours, theirs]) for n in cluster))
            for n in range(3):
                acme_elsewhere.add_segment(sid, "user", f"acme secret {n}")
            sim.add_segment(sid, "user", "default words")
            for viewing, frames in zip(viewings, seen, strict=True):
                await gathered(viewing, frames, ["acme secret 2", "default words"])
            redis = Redis.from_url(server.url, decode_responses=True)
            try:
                after = int((await redis.xrange(f"burki:in:{ours}"))[-1][1]["n"]) + 1
                copies = [
                    fields
                    for _, fields in await redis.xrange(f"burki:in:{theirs}")
                    if int(fields["n"]) >= after
                ]
                assert copies, "acme's log holds inputs numbered past the default stream's"
                for fields in copies:  # numbered as the default stream's next inputs
                    await redis.xadd(f"burki:in:{ours}", dict(fields))
            finally:
                await redis.aclose()
            sim.add_segment(sid, "user", "default after")
            for viewing, frames in zip(viewings, seen, strict=True):
                await gathered(viewing, frames, ["default after"])
        for frames in seen:
            shown = said([f for f in frames if f.stream == ours])
            assert shown == ["default words", "default after"]
        for node in cluster:
            assert node.state.store is not None
            assert node.state.store.refused["in"] >= 1  # refused, logged and counted


async def gathered(viewing: Viewing, frames: list[Frame], lines: list[str]) -> None:
    """Read ``viewing``'s frames into ``frames`` until every one of ``lines`` is among them."""
    async with asyncio.timeout(10):
        while not set(lines) <= set(said(frames)):
            batch = await viewing.sub.get_batch()
            assert batch is not None, "the viewer was closed"
            frames.extend(batch)


async def test_a_viewer_of_another_organisation_resumes_on_another_node_exactly(
    sim: Simulator, acme_sim: Simulator, server: RedisServer
) -> None:
    sid = acme_sim.add_call("CAacme0000000000000000000000000003")
    theirs = StreamKey.call(sid, "acme")
    async with nodes(sim, server, 2) as (a, b), serving_org([a, b], acme(acme_sim), ACME_KEY):
        first: list[Frame] = []
        with a.hub.watch([theirs], {}) as viewing:
            await a.hub.ready([theirs])
            acme_sim.add_segment(sid, "assistant", "before")
            await gathered(viewing, first, ["before"])
        last = first[-1].id
        kept: list[Frame] = []
        with a.hub.watch([theirs], {}) as keeper:  # the stream goes on while the viewer is away
            for text in ("missed 1", "missed 2"):
                acme_sim.add_segment(sid, "user", text)
            await gathered(keeper, kept, ["missed 2"])
            resumed: list[Frame] = []
            await b.hub.ready([theirs])  # as a page or a resume does: b reads the log first
            with b.hub.watch([theirs], {theirs: last}) as again:
                resumed.extend(again.take_first())
                await gathered(again, resumed, ["missed 2"])
        assert not [f for f in resumed if f.type in ("snapshot", "reset")]
        assert said(resumed) == ["missed 1", "missed 2"]  # exactly the missed events
        ids = {f.id for f in kept if f.type == "transcript"}
        assert {f.id for f in resumed if f.type == "transcript"} <= ids  # b numbers as a does
        assert acme_sim.connections_total(f"call:{sid}") == 1


def test_connection_items_come_back_from_the_log_with_their_kinds() -> None:
    """Every node reads the holder's connection items from Redis: a failure's kind (a
    ``StrEnum``) must come back as itself, or a node compares a string with the kind."""
    failure = Failure(FailureKind.ACCESS_DENIED, "Burki denied access.", fatal=True)
    for item in (GaveUp(failure), Reconnecting(2, 1.5, Failure(FailureKind.RATE_LIMITED, "slow"))):
        back = codec.decode(codec.encode(item))
        assert back == item
        kind = back.failure.kind
        assert isinstance(kind, FailureKind) and kind is item.failure.kind


async def test_an_organisations_refused_key_is_told_alike_on_every_node(
    sim: Simulator, acme_sim: Simulator, server: RedisServer
) -> None:
    """acme's key was revoked at Burki: the holder's upstream is refused, and every node
    (each reading the holder's connection items from Redis) tells its viewers the same."""
    sid = acme_sim.add_call("CAacme0000000000000000000000000004")
    theirs = StreamKey.call(sid, "acme")
    async with nodes(sim, server, 2) as cluster, serving_org(cluster, acme(sim), "revoked-key"):
        with ExitStack() as stack:
            viewings = [stack.enter_context(n.hub.watch([theirs], {})) for n in cluster]
            seen: list[list[Frame]] = [[] for _ in viewings]
            for viewing, frames in zip(viewings, seen, strict=True):
                async with asyncio.timeout(10):
                    while not [f for f in frames if f.data.get("reason") == "auth"]:
                        batch = await viewing.sub.get_batch()
                        assert batch is not None, "the viewer was closed"
                        frames.extend(batch)
        told = [[(f.id, f.data) for f in frames if f.type == "status"] for frames in seen]
        assert told[0] == told[1]  # the same status under the same id on both nodes


async def test_a_word_that_the_book_changed_makes_other_nodes_read_it_once(
    server: RedisServer,
) -> None:
    one = BookNews(Redis.from_url(server.url, decode_responses=True), "node-1")
    two = BookNews(Redis.from_url(server.url, decode_responses=True), "node-2")
    reads: list[float] = []
    read = asyncio.Event()

    async def read_book() -> None:
        reads.append(asyncio.get_running_loop().time())
        read.set()

    listening = asyncio.create_task(two.listen(read_book))
    try:
        async with asyncio.timeout(10):
            while not (await one.redis.pubsub_numsub(CHANNEL))[0][1]:  # noqa: ASYNC110
                await asyncio.sleep(0.02)  # Redis announces no subscription: look again
            await two.tell()  # its own word: node-2 read the book when it changed it
            await one.tell()
            await read.wait()
        assert len(reads) == 1
        read.clear()
        for _ in range(50):  # a flood (or a forged burst): reads spaced, not one per word
            await one.tell()
        async with asyncio.timeout(10):
            await read.wait()
        await asyncio.sleep(SPACING * 1.5)  # no event marks reads that must not happen
        assert len(reads) <= 3
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
        await one.redis.aclose()
        await two.redis.aclose()


def opened_by(live: LiveApp, who: Principal, path: str) -> HTTPConnection:
    """A request of ``who`` for ``path`` on ``live``, as the gate leaves it for a handler."""
    scope = {
        "type": "http",
        "app": live.app,
        "path": path,
        "query_string": b"",
        "headers": [],
        "client": ("192.0.2.7", 40000),
        "state": {"principal": who},
    }
    return HTTPConnection(scope)


async def test_a_sessions_once_views_of_two_organisations_are_both_audited_across_nodes(
    sim: Simulator, server: RedisServer
) -> None:
    """One session looks at the overview of the default organisation on one node, then at
    acme's on another: two page views, of two organisations; neither folds the other."""
    ada = Principal("ada", Roles(Role.ADMIN), "page", session="s-ada-1")
    async with nodes(sim, server, 2) as (a, b):
        await record(opened_by(a, ada, "/"), "overview", once=True, org="default")
        await record(opened_by(b, ada, "/o/acme/"), "overview", once=True, org="acme")
        await record(opened_by(a, ada, "/o/acme/"), "overview", once=True, org="acme")  # again
        entries = await a.state.access.audit.entries(None)
    views = sorted(e.org for e in entries if e.who == "ada" and e.what == "overview")
    assert views == ["acme", "default"]  # each once, whichever node saw it


async def counted(redis: Redis, org: str) -> int:
    """The streams every node says it monitors for an organisation (``acme/``; '': default)."""
    return sum(int(n) for n in (await redis.hgetall(f"burki:{org}monitored")).values())


async def test_each_organisations_monitor_places_its_own_calls_once_across_the_nodes(
    sim: Simulator, acme_sim: Simulator, server: RedisServer
) -> None:
    ours = [sim.add_call() for _ in range(3)]
    theirs = [acme_sim.add_call() for _ in range(3)]
    keys = [f"call:{sid}" for sid in ours] + [f"acme/call:{sid}" for sid in theirs]
    fast = {"monitor_enabled": True, "directory_poll_interval": 0.3}
    async with (
        nodes(sim, server, 2, **fast) as cluster,
        serving_org(cluster, acme(sim), ACME_KEY, **fast),
    ):
        redis = Redis.from_url(server.url, decode_responses=True)
        try:
            async with asyncio.timeout(30):  # Redis is another process: it announces nothing
                while None in await redis.mget([f"burki:lease:{k}" for k in keys]):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            for sid in ours:
                await sim.wait_for_connections(f"call:{sid}", 1, timeout=15)
            for sid in theirs:
                await acme_sim.wait_for_connections(f"call:{sid}", 1, timeout=15)
            # Each organisation's monitors count their own streams: three each, not six.
            async with asyncio.timeout(15):  # each node tells its count at its next look
                while [await counted(redis, n) for n in ("", "acme/")] != [3, 3]:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            # /admin on either node shows each organisation's share of every node, apart.
            for live in cluster:
                async with live.client(timeout=10) as admin:
                    panels = await admin_counts(live, admin)
                assert panels == {"default": 3, "acme": 3}, panels
        finally:
            await redis.aclose()
        for sid in ours:
            assert sim.connections_total(f"call:{sid}") == 1  # one upstream in the cluster
        for sid in theirs:
            assert acme_sim.connections_total(f"call:{sid}") == 1
    ids = {sid: "default" for sid in ours} | {sid: "acme" for sid in theirs}
    assert asked_with_the_wrong_key(sim, ids) == []


async def admin_counts(live: LiveApp, admin: httpx.AsyncClient) -> dict[str, int]:
    """Each organisation's streams monitored on every node, as /admin's Monitoring panel
    shows them, once it names both nodes for both organisations (each node's look brings
    the others' counts: nothing announces it)."""
    async with asyncio.timeout(15):
        while True:
            page = (await admin.get(f"{live.url}/admin")).text
            counts = {org: node_counts(monitoring_of(page, org)) for org in ("default", "acme")}
            if all(set(found) == {"node-1", "node-2"} for found in counts.values()):
                sums = {org: sum(found.values()) for org, found in counts.items()}
                if sums == {"default": 3, "acme": 3}:
                    return sums
            await asyncio.sleep(0.1)
