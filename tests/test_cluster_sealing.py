"""What the cluster keeps in Redis, attacked with a real redis-server: nothing a customer said
in clear, and nothing an attacker writes there is shown, acted on or posted by any node."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
import pytest
from redis.asyncio import Redis

from tests import configs
from tests.cluster import flush, nodes, redis_module
from tests.live import SESSION_SECRET, Viewer, has_segment, is_live
from tests.receiver import receiving
from tests.redisserver import RedisServer
from tests.test_alerts_live import endpoints
from webapp.access.users import Role
from webapp.calls.inputs import ActionTaken
from webapp.cluster import codec
from webapp.cluster.bus import Bus
from webapp.cluster.marks import RedisMarks
from webapp.cluster.sealing import Forged, Sealer
from webapp.cluster.startup import exposure
from webapp.relay.ports import Mark
from webapp.simulator import Simulator
from webapp.wire.events import Transcript
from webapp.wire.streamkey import StreamKey

__all__ = ["redis_module"]

SAID = [
    "my card is 4111 1111 1111 1111",
    "write to ada.lovelace@example.com please",
    "my social is 078-05-1120",
]
# The card as said and as digits: "4111" alone turns up by chance in ids, times and sealed text.
CLEAR = [
    "4111 1111",
    "4111111111111111",
    "lovelace",
    "078-05-1120",
    "my card",
    "write to",
    "social",
    "+15550100",
]


@pytest.fixture
def server(redis_module: RedisServer) -> Iterator[RedisServer]:
    flush(redis_module)
    yield redis_module


@asynccontextmanager
async def raw(server: RedisServer) -> AsyncIterator[Redis]:
    redis = Redis.from_url(server.url, decode_responses=True)
    try:
        yield redis
    finally:
        await redis.aclose()


async def everything(redis: Redis) -> str:
    """Every key and value Redis holds, as one text."""
    out = []
    async for key in redis.scan_iter("*"):
        kind = await redis.type(key)
        if kind == "stream":
            value: object = await redis.xrange(key)
        elif kind == "string":
            value = await redis.get(key)
        elif kind == "hash":
            value = await redis.hgetall(key)
        elif kind == "zset":
            value = await redis.zrange(key, 0, -1)
        else:
            value = kind
        out.append(f"{key} {value}")
    return "\n".join(out)


async def test_redis_holds_no_transcript_text_and_no_callers_number_in_clear(
    sim: Simulator, server: RedisServer
) -> None:
    sid = sim.add_call()
    nobody = {"redaction_unredact_roles": "", "directory_poll_interval": 0.2}
    async with nodes(sim, server, 2, **nobody) as (a, b), httpx.AsyncClient(timeout=10) as client:
        token = {"Authorization": f"Bearer {await a.token(Role.ADMIN)}"}
        client.headers.update(token)
        viewers = [Viewer(n.url, f"/api/calls/{sid}/events").start(client) for n in (a, b)]
        for viewer in viewers:
            await viewer.wait_for(is_live)
        for line in [*SAID, "that is all"]:
            sim.add_segment(sid, "user", line)
        for viewer in viewers:
            await viewer.wait_for(has_segment("that is all"))
        async with a.client(Role.ADMIN) as person:  # the overview: the directory is stored
            assert (await person.get(a.url + "/")).status_code == 200
        async with raw(server) as redis:
            assert await redis.xlen(f"burki:in:call:{sid}") > len(SAID)
            held = await everything(redis)
        assert "burki:directory" in held
        for viewer in viewers:
            await viewer.stop()
    assert not [clear for clear in CLEAR if clear in held]


async def test_forged_copied_and_unnumbered_inputs_are_refused_by_every_node(
    sim: Simulator, server: RedisServer
) -> None:
    """An attacker who can write to Redis adds a transcript line that would raise an alert,
    "admin1 ended the call", an unnumbered entry, a copy of another stream's input and a
    copy of an earlier one of this stream: no node shows any, no webhook is posted."""
    sid, other = sim.add_call(), sim.add_call()
    async with receiving() as receiver:
        hooks = {"webhook_endpoints": endpoints(receiver.url, "alert")}
        async with nodes(sim, server, 2, **hooks) as (a, b), raw(server) as redis:
            client = httpx.AsyncClient(
                timeout=10, headers={"Authorization": f"Bearer {await a.token(Role.ADMIN)}"}
            )
            viewers = [Viewer(n.url, f"/api/calls/{sid}/events").start(client) for n in (a, b)]
            elsewhere = Viewer(a.url, f"/api/calls/{other}/events").start(client)
            sim.add_segment(other, "user", "words of another call")
            sim.add_segment(sid, "user", "first words")
            await elsewhere.wait_for(has_segment("words of another call"))
            for viewer in viewers:
                await viewer.wait_for(has_segment("first words"))

            key = f"burki:in:call:{sid}"
            mine = await redis.xrange(key)
            last = mine[-1][1]
            after = int(last["n"]) + 1
            lawyer = codec.encode(Transcript(sid, "user", "get me a lawyer", True))
            now = datetime.now(UTC).isoformat()
            ended = codec.encode(ActionTaken("admin1", "call", "done", "ended the call", now))
            await redis.xadd(key, {"i": lawyer, "by": last["by"], "n": "0"})
            await redis.xadd(key, {"i": lawyer, "by": last["by"], "n": str(after)})
            await redis.xadd(key, {"i": ended, "by": last["by"], "n": str(after + 1)})
            await redis.xadd(key, (await redis.xrange(f"burki:in:call:{other}"))[-1][1])
            await redis.xadd(key, dict(last))  # this stream's own input, again
            await redis.xadd(f"burki:req:call:{sid}", {"i": ended, "t": str(int(1000 * 1e9))})
            sim.add_segment(sid, "user", "real words after")
            for viewer in viewers:
                await viewer.wait_for(has_segment("real words after"))
            for node in (a, b):
                assert node.state.webhooks is not None
                await node.state.webhooks.wait_idle()
            seen = [e.data for viewer in viewers for e in viewer.events]
            metrics = [(await client.get(n.url + "/metrics")).text for n in (a, b)]
            for viewer in [*viewers, elsewhere]:
                await viewer.stop()
            await client.aclose()
    assert not [d for d in seen if "lawyer" in d or "ended the call" in d or "another" in d]
    assert [d for d in seen if "first words" in d]
    assert receiver.requests == []  # no alert posted, signed or not
    for text in metrics:
        found = re.search(r'burki_live_store_refused_total\{what="in"\} (\d+)', text)
        assert found is not None and float(found[1]) >= 5, text


def test_a_sealed_value_opens_only_where_it_was_sealed() -> None:
    sealer = Sealer("a cluster secret of enough length 0123456789")
    sealed = sealer.key("in", "call:A").seal("words", "call:A", 3, "node-1:7", "")
    assert sealer.key("in", "call:A").open(sealed, "call:A", 3, "node-1:7", "") == "words"
    for purpose, stream, n in (("in", "call:B", 3), ("in", "call:A", 4), ("req", "call:A", 3)):
        with pytest.raises(Forged):
            sealer.key(purpose, stream).open(sealed, stream, n, "node-1:7", "")
    with pytest.raises(Forged):  # another cluster's secret
        Sealer("another secret").key("in", "call:A").open(sealed, "call:A", 3, "node-1:7", "")
    assert "words" not in sealed
    assert "enough length" not in repr(sealer)


async def test_a_forged_delivery_mark_or_answered_request_counts_as_none(
    server: RedisServer,
) -> None:
    """A mark moved ahead would make the holder skip alerts; a request marked answered would
    make the next holder skip claims. Forged, both read as absent (and are counted)."""
    config = configs.bus("node-1", 3.0, secret=SESSION_SECRET)
    bus = Bus(Redis.from_url(server.url, decode_responses=True), config)
    marks, ca9 = RedisMarks(bus), StreamKey.call("CA9")
    stream = str(ca9)  # its name in the store
    try:
        lease = await bus.tick(stream, None)
        await marks.advance(ca9, "r", Mark("e1", 4))
        assert await marks.marks(ca9) == {"r": Mark("e1", 4)}
        await bus.redis.hset(f"burki:sent:{stream}", "r", "e1 999")
        await bus.redis.hset(f"burki:sent:{stream}", "q", "e1 999 " + "0" * 32)
        assert await marks.marks(ca9) == {}
        assert bus.refused["sent"] == 2
        req = await bus.request(stream, codec.encode(ActionTaken("ada", "call", "asked", "m", "")))
        assert await bus.publish(stream, lease.value, "{}", req, 1)
        assert await bus.answered(stream) == req
        await bus.redis.set(f"burki:answered:{stream}", "99999999999999-0")
        assert await bus.answered(stream) == "0"
        assert bus.refused["answered"] == 1
    finally:
        await bus.close()


def test_start_up_warns_of_a_redis_without_password_or_without_tls_across_machines() -> None:
    assert exposure("redis://:pw@127.0.0.1:6379/0") == []
    assert exposure("rediss://:pw@redis.internal:6380/0") == []
    assert ["password" in w for w in exposure("redis://127.0.0.1:6379/0")] == [True]
    warned = exposure("redis://:pw@redis.internal:6379/0")
    assert len(warned) == 1 and "rediss://" in warned[0] and "pw" not in warned[0]
