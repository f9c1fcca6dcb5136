"""What a viewer costs the server while nothing happens: no timer of its own (issue 27).

Over real sockets, with the dashboard's own loop: the heartbeats of every viewer come
from one sweep, and each viewer still hears its heartbeat, however many there are.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.live import LiveApp, running_app
from tests.rawviewers import RawViewer, bearer, until
from webapp.access.users import Role
from webapp.simulator import Simulator
from webapp.wire.streamkey import StreamKey

VIEWERS = 40
ROOM = {
    "dashboard_streams_per_session": 100,
    "relay_stall_timeout": 0.2,  # the opening write's watchdog lapses soon after
}


def live_timers() -> int:
    """Timer handles the loop holds that will still run (cancelled ones are dead weight)."""
    scheduled: list[asyncio.TimerHandle] = getattr(asyncio.get_running_loop(), "_scheduled")  # noqa: B009
    return sum(1 for handle in scheduled if not handle.cancelled())


async def viewers_of(live: LiveApp, sid: str, count: int) -> list[RawViewer]:
    auth = bearer(await live.token(Role.ADMIN))
    path = f"/api/calls/{sid}/events"
    viewers = [await RawViewer(live.url, path, auth).open() for _ in range(count)]
    key = StreamKey.call(sid)

    def watching() -> int:
        stream = live.hub.streams.get(key)
        return 0 if stream is None else stream.viewer_count

    await until(lambda: watching() >= count, 10, f"{count} viewers")
    return viewers


async def test_idle_viewers_hold_no_timer_each(sim: Simulator) -> None:
    """Forty idle viewers of a live call add a handful of loop timers (the stream's, one
    heartbeat sweep), not one or more per viewer."""
    sid = sim.add_call()
    async with running_app(sim, relay_heartbeat=60.0, **ROOM) as live:
        first = await viewers_of(live, sid, 1)
        await sim.wait_for_connections(f"call:{sid}", 1)
        await until(lambda: live_timers() > 0, 5, "the loop holds its timers")
        alone = live_timers()
        more = await viewers_of(live, sid, VIEWERS)
        # The opening writes' stall watchdogs lapse within the stall timeout; what is
        # left is what idle viewers hold.
        await until(lambda: live_timers() <= alone + 4, 5, "only shared timers are left")
        for viewer in first + more:
            await viewer.close()


async def test_every_idle_viewer_hears_its_heartbeat_again_and_again(sim: Simulator) -> None:
    """A viewer of a silent call hears a heartbeat every period, each of many viewers."""
    sid = sim.add_call()
    async with running_app(sim, relay_heartbeat=0.3, **ROOM) as live:
        viewers = await viewers_of(live, sid, VIEWERS)
        await asyncio.gather(*(viewer.wait_for_pings(3, timeout=20) for viewer in viewers))
        assert all(viewer.connected for viewer in viewers)
        for viewer in viewers:
            await viewer.close()


async def test_a_viewer_sent_frames_hears_no_heartbeat(sim: Simulator) -> None:
    """Heartbeats go out only after silence: a viewer sent a segment more often than the
    period hears none meanwhile, while an idle call's viewer does."""
    busy, quiet = sim.add_call(), sim.add_call()
    async with running_app(sim, relay_heartbeat=2.0, **ROOM) as live:
        [talked_to] = await viewers_of(live, busy, 1)
        [idle] = await viewers_of(live, quiet, 1)
        await sim.wait_for_connections(f"call:{busy}", 1)
        for n in range(30):  # every 0.1 s or so: never half a period (1 s) without a frame
            sim.add_segment(busy, "user", f"seg{n:04d}. still talking")
            await talked_to.wait_for(n, timeout=5)
            await asyncio.sleep(0.1)
        await idle.wait_for_pings(1, timeout=5)
        assert talked_to.pings == 0
        await talked_to.close()
        await idle.close()


async def test_the_viewers_of_one_token_are_rechecked_with_one_read_and_all_end_at_revoke(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forty streams of one wallboard token: each re-check round reads the token a few
    times (once per bucket of streams opened together), not forty; revoked, all end."""
    sid = sim.add_call()
    recheck = {"dashboard_stream_recheck_minutes": 0.05}  # 3 s
    async with running_app(sim, **ROOM, **recheck) as live:
        tokens = live.state.access.tokens
        viewers = await viewers_of(live, sid, VIEWERS)
        reads: list[str] = []
        verify = tokens.verify

        async def counted(token: str) -> object:
            reads.append(token)
            return await verify(token)

        monkeypatch.setattr(tokens, "verify", counted)
        await until(lambda: len(reads) > 0, 10, "the first re-check round")
        await asyncio.sleep(0.5)  # the rest of the round (its buckets span the opening)
        assert 0 < len(reads) <= 4, len(reads)
        await tokens.revoke(next(t.name for t in await tokens.list()))
        await until(lambda: all(viewer.ended for viewer in viewers), 15, "every stream ends")
        assert live.state.access.caps.open == {}
        for viewer in viewers:
            await viewer.close()
