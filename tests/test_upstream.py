"""The upstream client against the simulator, over real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import random
import socket

import pytest

from tests.conftest import SIM_KEY
from tests.hubs import upstream_config as config
from tests.streams import collect_until
from webapp.settings import AuthMode
from webapp.simulator import Simulator
from webapp.wire.events import CallStatus, Progress, Transcript
from webapp.wire.failures import FailureKind
from webapp.wire.upstream import (
    AuthMemory,
    Connecting,
    GaveUp,
    Item,
    Live,
    Reconnecting,
    Upstream,
)


class NoJitter(random.Random):
    def random(self) -> float:
        return 0.0


def call_path(sid: str) -> str:
    return f"/live-transcript/{sid}"


def is_live(item: Item) -> bool:
    return isinstance(item, Live)


def is_reconnecting(item: Item) -> bool:
    return isinstance(item, Reconnecting)


def transcripts(items: list[Item]) -> list[str]:
    return [i.content for i in items if isinstance(i, Transcript)]


async def test_streams_status_then_the_replayed_history(sim: Simulator) -> None:
    sid = sim.add_call()
    sim.add_segment(sid, "user", "Hello?")
    sim.add_segment(sid, "assistant", "Hi, how can I help?")
    items = Upstream(config(sim), call_path(sid)).items()
    seen = await collect_until(items, lambda i: isinstance(i, Transcript) and "help" in i.content)
    await items.aclose()
    assert isinstance(seen[0], Connecting)
    assert any(isinstance(i, Live) for i in seen)
    status = next(i for i in seen if isinstance(i, CallStatus))
    assert status.status == "in-progress"
    assert transcripts(seen) == ["Hello?", "Hi, how can I help?"]


async def test_live_segments_follow_the_replay(sim: Simulator) -> None:
    sid = sim.add_call()
    items = Upstream(config(sim), call_path(sid)).items()
    await collect_until(items, lambda i: isinstance(i, CallStatus))
    sim.add_segment(sid, "user", "I need help", is_final=False)
    sim.add_segment(sid, "user", "I need help with my bill")
    seen = await collect_until(items, lambda i: isinstance(i, Transcript) and i.is_final)
    await items.aclose()
    assert [(t.content, t.is_final) for t in seen if isinstance(t, Transcript)] == [
        ("I need help", False),
        ("I need help with my bill", True),
    ]


async def test_header_auth_is_used_first_and_remembered(sim: Simulator) -> None:
    memory = AuthMemory()
    sid = sim.add_call()
    items = Upstream(config(sim), call_path(sid), memory).items()
    seen = await collect_until(items, is_live)
    await items.aclose()
    assert seen[-1] == Live(AuthMode.HEADER)
    assert memory.mode_for(config(sim)) is AuthMode.HEADER


async def test_oss_server_header_crash_falls_back_to_query_and_remembers(
    oss_sim: Simulator,
) -> None:
    memory = AuthMemory()
    sid = oss_sim.add_call()
    oss_sim.add_segment(sid, "user", "first")
    items = Upstream(config(oss_sim), call_path(sid), memory).items()
    seen = await collect_until(items, lambda i: isinstance(i, Transcript))
    await items.aclose()
    assert Live(AuthMode.QUERY) in seen
    assert not any(isinstance(i, Reconnecting | GaveUp) for i in seen)
    assert memory.mode_for(config(oss_sim)) is AuthMode.QUERY
    # The next stream to the same server goes straight to ?token=.
    again = Upstream(config(oss_sim), call_path(sid), memory).items()
    assert (await collect_until(again, is_live))[-1] == Live(AuthMode.QUERY)
    await again.aclose()


@pytest.mark.parametrize("mode", [AuthMode.HEADER, AuthMode.QUERY, AuthMode.SUBPROTOCOL])
async def test_each_forced_auth_mode_works_against_hosted_burki(
    sim: Simulator, mode: AuthMode
) -> None:
    sid = sim.add_call()
    items = Upstream(config(sim, auth_mode=mode), call_path(sid)).items()
    assert (await collect_until(items, is_live))[-1] == Live(mode)
    await items.aclose()


@pytest.mark.parametrize("mode", [AuthMode.HEADER, AuthMode.QUERY, AuthMode.SUBPROTOCOL])
async def test_a_bad_key_is_retried_only_after_a_minute(sim: Simulator, mode: AuthMode) -> None:
    sid = sim.add_call()
    up = Upstream(config(sim, api_key="wrong-key-123", auth_mode=mode), call_path(sid))
    items = up.items()
    seen = await collect_until(items, is_reconnecting)
    await items.aclose()
    assert isinstance(seen[-1], Reconnecting)
    assert seen[-1].failure.kind is FailureKind.AUTH
    assert seen[-1].delay >= 60  # no retry storm, though the key may work again later
    assert sum(isinstance(i, Connecting) for i in seen) == 1


async def test_oss_unknown_call_is_access_denied_then_told_apart_as_not_found(
    oss_sim: Simulator,
) -> None:
    async def missing() -> bool:
        return False

    up = Upstream(
        config(oss_sim, auth_mode=AuthMode.QUERY),
        call_path("CA" + "0" * 32),
        access_check=missing,
    )
    items = up.items()
    seen = await collect_until(items, is_reconnecting)
    await items.aclose()
    assert isinstance(seen[-1], Reconnecting)
    assert seen[-1].failure.kind is FailureKind.NOT_FOUND
    assert seen[-1].delay >= 30


async def test_access_denied_to_an_existing_call_is_fatal(oss_sim: Simulator) -> None:
    async def exists() -> bool:
        return True

    up = Upstream(
        config(oss_sim, auth_mode=AuthMode.QUERY),
        call_path("CA" + "1" * 32),
        access_check=exists,
    )
    seen = [item async for item in up.items()]
    assert isinstance(seen[-1], GaveUp)
    assert seen[-1].failure.kind is FailureKind.ACCESS_DENIED


async def test_hosted_unknown_call_is_not_found_and_retried_slowly(sim: Simulator) -> None:
    items = Upstream(config(sim), call_path("CA" + "2" * 32)).items()
    seen = await collect_until(items, is_reconnecting)
    await items.aclose()
    assert isinstance(seen[-1], Reconnecting)
    assert seen[-1].failure.kind is FailureKind.NOT_FOUND
    assert seen[-1].delay >= 30


async def test_a_malformed_call_id_is_a_handshake_404(sim: Simulator) -> None:
    items = Upstream(config(sim), "/live-transcript/bad%20id!").items()
    seen = await collect_until(items, is_reconnecting)
    await items.aclose()
    assert isinstance(seen[-1], Reconnecting)
    assert seen[-1].failure.kind is FailureKind.NOT_FOUND


async def test_the_eleventh_connection_to_a_call_is_rate_limited(sim: Simulator) -> None:
    sid = sim.add_call()
    holders = [Upstream(config(sim), call_path(sid)).items() for _ in range(10)]
    for holder in holders:
        await collect_until(holder, is_live)
    await sim.wait_for_connections(f"call:{sid}", 10)
    eleventh = Upstream(config(sim), call_path(sid)).items()
    seen = await collect_until(eleventh, is_reconnecting)
    assert isinstance(seen[-1], Reconnecting)
    assert seen[-1].failure.kind is FailureKind.RATE_LIMITED
    assert seen[-1].delay >= 30
    for it in [*holders, eleventh]:
        await it.aclose()


async def test_a_dropped_connection_reconnects_and_replays(sim: Simulator) -> None:
    sid = sim.add_call()
    sim.add_segment(sid, "user", "before the drop")
    items = Upstream(config(sim), call_path(sid)).items()
    await collect_until(items, lambda i: isinstance(i, Transcript))
    await sim.drop(f"call:{sid}")
    seen = await collect_until(items, lambda i: isinstance(i, Transcript))
    await items.aclose()
    reconnect = next(i for i in seen if isinstance(i, Reconnecting))
    assert reconnect.failure.kind is FailureKind.TRANSIENT
    assert "dropped" in reconnect.failure.message
    assert transcripts(seen) == ["before the drop"]  # Burki replays; the relay dedupes
    assert sim.connections_total(f"call:{sid}") == 2


async def test_a_1011_close_is_transient(sim: Simulator) -> None:
    sid = sim.add_call()
    items = Upstream(config(sim), call_path(sid)).items()
    await collect_until(items, is_live)
    await sim.close(f"call:{sid}", code=1011, reason="Internal error")
    seen = await collect_until(items, is_live)
    await items.aclose()
    reconnect = next(i for i in seen if isinstance(i, Reconnecting))
    assert reconnect.failure.kind is FailureKind.TRANSIENT
    assert "1011" in reconnect.failure.message


async def test_a_silent_peer_is_detected_in_bounded_time(sim: Simulator) -> None:
    sid = sim.add_call()
    items = Upstream(config(sim, ping_timeout=0.2), call_path(sid)).items()
    await collect_until(items, is_live)
    sim.hang(f"call:{sid}")
    loop = asyncio.get_running_loop()
    started = loop.time()
    seen = await collect_until(items, is_reconnecting, timeout=5)
    await items.aclose()
    assert loop.time() - started < 2.0  # ping interval + ping timeout, plus slack
    assert seen[-1].failure.kind is FailureKind.TRANSIENT  # type: ignore[union-attr]


async def test_malformed_and_oversized_frames_are_skipped_and_the_stream_goes_on(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    sid = sim.add_call()
    items = Upstream(config(sim, max_frame_bytes=4096), call_path(sid)).items()
    await collect_until(items, lambda i: isinstance(i, CallStatus))
    secret_text = "do-not-log-this-content"
    sim.send_raw(f"call:{sid}", "{not json " + secret_text)
    sim.send_raw(f"call:{sid}", '{"type":"transcript","data":{"content":"' + "x" * 5000 + '"}}')
    sim.send_raw(f"call:{sid}", '{"type":"surprise","note":"' + secret_text + '"}')
    sim.add_segment(sid, "user", "still here")
    with caplog.at_level(logging.WARNING, logger="webapp.wire.upstream"):
        seen = await collect_until(items, lambda i: isinstance(i, Transcript))
    await items.aclose()
    assert transcripts(seen) == ["still here"]
    assert not any(isinstance(i, Reconnecting) for i in seen)
    skips = [r for r in caplog.records if "skipped a frame" in r.getMessage()]
    assert len(skips) == 3
    assert secret_text not in caplog.text


async def test_campaign_streams_yield_progress(sim: Simulator) -> None:
    cid = sim.add_campaign(name="Renewals", dialect="C", contacts=3)
    items = Upstream(config(sim), f"/ws/campaigns/{cid}/progress").items()
    seen = await collect_until(items, lambda i: isinstance(i, Progress))
    await items.aclose()
    progress = seen[-1]
    assert isinstance(progress, Progress)
    assert progress.counters.total == 3


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_backoff_grows_while_burki_is_unreachable() -> None:
    up = Upstream(
        config(f"ws://127.0.0.1:{unused_port()}", backoff_base=0.01, backoff_cap=0.08),
        call_path("CA1"),
        rng=NoJitter(),
    )
    items = up.items()
    seen = await collect_until(items, lambda i: isinstance(i, Reconnecting) and i.attempt == 5)
    await items.aclose()
    delays = [i.delay for i in seen if isinstance(i, Reconnecting)]
    assert delays == [0.01, 0.02, 0.04, 0.08, 0.08]
    assert all(i.failure.kind is FailureKind.TRANSIENT for i in seen if isinstance(i, Reconnecting))
    assert up.failures_in_row == 5


async def test_backoff_resets_after_a_healthy_connection(sim: Simulator) -> None:
    sid = sim.add_call()
    up = Upstream(
        config(sim, backoff_base=0.01, backoff_cap=1.0, healthy_after=0.2),
        call_path(sid),
        rng=NoJitter(),
    )
    sim.faults.close_code_on_connect = 1011  # accepted, then closed at once: never healthy
    items = up.items()
    first = await collect_until(items, lambda i: isinstance(i, Reconnecting) and i.attempt == 3)
    assert [i.delay for i in first if isinstance(i, Reconnecting)] == [0.01, 0.02, 0.04]
    sim.faults.close_code_on_connect = None
    await collect_until(items, is_live)
    await asyncio.wait_for(_stay_connected(sim, f"call:{sid}", 0.3), 5)
    await sim.drop(f"call:{sid}")
    after = await collect_until(items, is_reconnecting)
    await items.aclose()
    assert after[-1].delay == 0.01  # type: ignore[union-attr]


async def _stay_connected(sim: Simulator, key: str, seconds: float) -> None:
    await sim.wait_for_connections(key, 1)
    await asyncio.sleep(seconds)  # the behaviour under test is time itself: "healthy for N s"


async def test_cancelling_the_consumer_closes_the_socket(sim: Simulator) -> None:
    sid = sim.add_call()
    items = Upstream(config(sim), call_path(sid)).items()

    async def consume() -> None:
        async for _ in items:
            pass

    task = asyncio.create_task(consume())
    await sim.wait_for_connections(f"call:{sid}", 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await sim.wait_for_connections(f"call:{sid}", 0)


async def test_the_key_never_reaches_a_log_line(
    oss_sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    key = "sk-burki-log-probe-31337"
    memory = AuthMemory()
    with caplog.at_level(logging.DEBUG):
        bad = Upstream(config(oss_sim, api_key=key), call_path("CA" + "3" * 32), memory).items()
        await collect_until(bad, is_reconnecting)  # refused: retried only a minute later
        await bad.aclose()
        good = Upstream(config(oss_sim), call_path(oss_sim.add_call()), memory).items()
        await collect_until(good, is_live)
        await good.aclose()
    wire = [r for r in caplog.records if r.name == "webapp.wire.upstream.wire"]
    assert wire, "websockets logged no request line: the test would prove nothing"
    assert key not in caplog.text
    assert SIM_KEY not in caplog.text


@pytest.mark.parametrize("compression", [False, True])
async def test_permessage_deflate_is_offered_to_burki_only_when_configured(
    compression: bool,
) -> None:
    """Off by default: a deflate context costs each open stream about 50 KiB for a few
    KB/s of JSON (BURKI_COMPRESSION)."""
    heads: asyncio.Queue[bytes] = asyncio.Queue()

    async def handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads.put_nowait(await reader.readuntil(b"\r\n\r\n"))
        writer.close()  # no answer: the attempt fails, which is all this needs

    server = await asyncio.start_server(handshake, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    items = Upstream(
        config(f"ws://127.0.0.1:{port}", compression=compression), call_path("CA1")
    ).items()
    try:
        async with server:
            await anext(items)  # Connecting
            reading = asyncio.ensure_future(anext(items))
            head = (await asyncio.wait_for(heads.get(), 10)).decode().lower()
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
    finally:
        await items.aclose()
    assert "sec-websocket-key" in head  # it was the handshake
    assert ("permessage-deflate" in head) is compression
