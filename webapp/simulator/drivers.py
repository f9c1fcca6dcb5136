"""The two background tasks of a running simulator; ``Simulator.start`` creates them
and ``Simulator.stop`` cancels them.

- :func:`run_autoplay` plays a :class:`~webapp.simulator.world.World` in scaled time.
- :func:`run_pacer` emits ``Faults.segment_rate`` final segments per second on every
  in-progress call with a live socket, for benchmarks. Each carries its send time:
  ``"t=<time.time():.6f> n=<n> <a line>"`` (``n`` counts the pacer's segments from 1;
  the line is one of the scripted conversations', so what the dashboard scans is
  real speech), so ``float(content.split()[0][2:])`` is when the simulator produced it.

And :func:`burst`, awaited by whoever scripts it (a test, a benchmark): segments of one
call at a set rate, as a fast talker or a replay reaches the dashboard.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from webapp.simulator.dialogue import SCENARIOS
from webapp.simulator.oss import provider_call_id, uuid_call_id
from webapp.simulator.world import (
    Action,
    AdvanceCampaign,
    EndCall,
    Say,
    StartCall,
    StartCampaign,
    World,
)

if TYPE_CHECKING:
    from webapp.simulator.server import Simulator

logger = logging.getLogger("webapp.simulator")

MAX_CATCH_UP = 1000
# Lines that do not end in a number, written or spoken (one may go on in the next segment,
# so the dashboard's redaction holds the segment back: real, but not what a pacer measures).
_DIGIT_WORDS = {
    "zero",
    "oh",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
}
PACED_LINES = tuple(
    text
    for scenario in SCENARIOS
    for _, text in scenario.turns
    if not (last := text.rstrip(" .,?!").split()[-1].lower())[-1:].isdigit()
    and last not in _DIGIT_WORDS
)
"""At most this many paced segments per call are emitted in one burst after a stall."""


async def run_autoplay(sim: Simulator) -> None:
    dialects = (sim.campaign_dialect,) * 3 if sim.campaign_dialect else ("A", "B", "C")
    world = World(sim.seed, dialects=dialects)
    slots: dict[int, int] = {}
    ids = CallIds(sim)
    if sim.oss_quirks:  # a call whose media never connected: "ongoing" forever, silent
        sim.add_call(
            uuid_call_id(random.Random(sim.seed)), "in-progress", "Front desk", "+15550199"
        )
    loop = asyncio.get_running_loop()
    started = loop.time()
    while True:
        now = (loop.time() - started) * sim.speed
        for action in world.due(now):
            try:
                _apply(sim, ids.mapped(action), slots)
            except (KeyError, ValueError) as exc:  # a test scripted over autoplay's traffic
                logger.warning("autoplay skipped %s: %r", type(action).__name__, exc)
        await asyncio.sleep(max(0.0, (world.next_at() - now) / sim.speed))


class CallIds:
    """In open-source mode, the world's Twilio SIDs become Telnyx and UUID ids in turn."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.rng = random.Random(sim.seed + 1)
        self.ids: dict[str, str] = {}

    def mapped(self, action: Action) -> Action:
        if not self.sim.oss_quirks:
            return action
        match action:
            case StartCall(sid=sid):
                self.ids[sid] = provider_call_id(sid, len(self.ids), self.rng)
                return dataclasses.replace(action, sid=self.ids[sid])
            case Say(sid=sid) | EndCall(sid=sid):
                return dataclasses.replace(action, sid=self.ids.get(sid, sid))
        return action


def _apply(sim: Simulator, action: Action, slots: dict[int, int]) -> None:
    if isinstance(action, StartCampaign | AdvanceCampaign) and not sim.campaign_api:
        return  # this Burki has no campaigns
    match action:
        case StartCall(sid, assistant_name, phone):
            sim.add_call(sid, "in-progress", assistant_name, phone)
        case Say(sid, speaker, content, is_final, confidence):
            sim.add_segment(sid, speaker, content, is_final, confidence)
        case EndCall(sid, status):
            sim.set_call_status(sid, status)
        case StartCampaign(slot, name, dialect, contacts):
            slots[slot] = sim.add_campaign(name, dialect, contacts)
        case AdvanceCampaign(slot, outcome):
            campaign = sim.store.campaigns.get(slots[slot])
            if campaign is not None and campaign.status == "running":  # paused: no dialing
                sim.advance_campaign(slots[slot], outcome)


async def run_pacer(sim: Simulator) -> None:
    """Wait for a ``segment_rate``; pace segments until any fault knob changes."""
    sent = 0
    while True:
        sim.faults_changed.clear()
        rate = sim.faults.segment_rate
        if rate is None or rate <= 0:
            await sim.faults_changed.wait()
            continue
        sent = await _pace(sim, rate, sent)


async def _pace(sim: Simulator, rate: float, sent: int) -> int:
    """Emit at ``rate`` per second and per call, on an absolute schedule (no drift);
    return the running count when a fault knob changes."""
    loop = asyncio.get_running_loop()
    started, ticks = loop.time(), 0
    while True:
        due = int((loop.time() - started) * rate) - ticks
        for _ in range(min(due, MAX_CATCH_UP)):
            sent = _emit(sim, sent)
        ticks += due
        delay = started + (ticks + 1) / rate - loop.time()
        try:
            async with asyncio.timeout(max(0.0, delay)):
                await sim.faults_changed.wait()
            return sent
        except TimeoutError:
            pass


def _emit(sim: Simulator, sent: int) -> int:
    for key in sim.session.streams.live_keys("call"):
        sid = key.removeprefix("call:")
        call = sim.store.calls.get(sid)
        if call is None or call.ended:
            continue
        sent += 1
        speaker = "user" if sent % 2 else "assistant"
        line = PACED_LINES[sent % len(PACED_LINES)]
        sim.add_segment(sid, speaker, f"t={time.time():.6f} n={sent} {line}", True, 0.99)
    return sent


async def burst(
    sim: Simulator,
    sid: str,
    contents: Iterable[str],
    per_second: float | None = None,
    speaker: str = "user",
) -> None:
    """Say ``contents`` as final segments of call ``sid``, ``per_second`` a second on an
    absolute schedule (None: all at once, without a pause).

    Nobody paces it: when the loop was busy, every segment already due goes at once,
    as Burki's own sends do not wait for the dashboard to keep up.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    for n, content in enumerate(contents):
        if per_second is not None and (delay := started + n / per_second - loop.time()) > 0:
            await asyncio.sleep(delay)
        sim.add_segment(sid, speaker, content)
