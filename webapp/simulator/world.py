"""The scripted traffic of autoplay: calls that talk and end, campaigns that run.

Pure and deterministic: a :class:`World` is a timetable of :data:`Action` values
drawn from one seeded :class:`random.Random`, read with :meth:`World.due` as a
clock advances. It knows nothing of sockets or of the wall clock; the simulator's
autoplay task feeds it scaled time and applies what falls due. New calls and
campaigns are scheduled when earlier ones end, so the timetable never runs dry
and never holds more than a few scripts.

Times are script seconds from the start.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass

from webapp.simulator.dialogue import ASSISTANTS, CAMPAIGN_NAMES, GREETINGS, SCENARIOS
from webapp.simulator.model import Dialect, Outcome, new_call_sid

SECONDS_PER_WORD = 0.28
FAILED_CALL_RATE = 0.15
CONTACT_SUCCESS_RATE = 0.72


@dataclass(frozen=True)
class StartCall:
    sid: str
    assistant_name: str
    customer_phone: str


@dataclass(frozen=True)
class Say:
    sid: str
    speaker: str
    content: str
    is_final: bool
    confidence: float | None


@dataclass(frozen=True)
class EndCall:
    sid: str
    status: str


@dataclass(frozen=True)
class StartCampaign:
    slot: int
    """Which of the concurrent campaigns this is; later actions name the slot."""
    name: str
    dialect: Dialect
    contacts: int


@dataclass(frozen=True)
class AdvanceCampaign:
    slot: int
    outcome: Outcome


Action = StartCall | Say | EndCall | StartCampaign | AdvanceCampaign


@dataclass(frozen=True)
class _NextCall:
    pass


@dataclass(frozen=True)
class _NextCampaign:
    slot: int
    dialect: Dialect


_Entry = Action | _NextCall | _NextCampaign


class World:
    """``calls`` concurrent calls and one campaign per entry of ``dialects``."""

    def __init__(self, seed: int, calls: int = 4, dialects: tuple[Dialect, ...] = ("A", "B", "C")):
        self._rng = random.Random(seed)
        self._timetable: list[tuple[float, int, _Entry]] = []
        self._seq = 0
        self._campaigns_started = 0
        for n in range(calls):
            self._script_call(0.2 + n * 2.5)
        for slot, dialect in enumerate(dialects):
            self._script_campaign(slot, dialect, 0.5 + slot * 1.5)

    def next_at(self) -> float:
        """When the next action falls due (infinity if none ever will)."""
        return self._timetable[0][0] if self._timetable else float("inf")

    def due(self, now: float) -> list[Action]:
        """Every action due at or before ``now``, in order; each is returned once."""
        actions: list[Action] = []
        while self._timetable and self._timetable[0][0] <= now:
            at, _, entry = heapq.heappop(self._timetable)
            if isinstance(entry, _NextCall):
                self._script_call(at)
            elif isinstance(entry, _NextCampaign):
                self._script_campaign(entry.slot, entry.dialect, at)
            else:
                actions.append(entry)
        return actions

    def _at(self, at: float, entry: _Entry) -> None:
        self._seq += 1
        heapq.heappush(self._timetable, (at, self._seq, entry))

    def _script_call(self, at: float) -> None:
        rng = self._rng
        sid = new_call_sid(rng)
        scenario = rng.choice(SCENARIOS)
        phone = f"+1555{rng.randrange(10**7):07d}"
        self._at(at, StartCall(sid, rng.choice(ASSISTANTS), phone))
        t = at + rng.uniform(0.5, 1.2)
        turns = [("assistant", rng.choice(GREETINGS)), *scenario.turns]
        status = "failed" if rng.random() < FAILED_CALL_RATE else "completed"
        if status == "failed":  # the line drops part-way
            turns = turns[: rng.randint(2, len(turns) - 1)]
        for speaker, text in turns:
            t = self._script_turn(sid, speaker, text, t)
            t += rng.uniform(0.6, 1.6)
        self._at(t, EndCall(sid, status))
        self._at(t + rng.uniform(2.0, 6.0), _NextCall())

    def _script_turn(self, sid: str, speaker: str, text: str, t: float) -> float:
        """Schedule one utterance; a user's comes as 1-2 growing interims, then the final."""
        rng = self._rng
        words = text.split()
        if speaker == "user":
            pieces = rng.choice((1, 2))
            for piece in range(1, pieces + 1):
                partial = words[: max(1, len(words) * piece // (pieces + 1))]
                confidence = round(rng.uniform(0.55, 0.85), 2)
                interim = Say(sid, speaker, " ".join(partial), False, confidence)
                self._at(t + _spoken(partial), interim)
            confidence = round(rng.uniform(0.86, 0.99), 2)
        else:
            confidence = None
        end = t + _spoken(words)
        self._at(end, Say(sid, speaker, text, True, confidence))
        return end

    def _script_campaign(self, slot: int, dialect: Dialect, at: float) -> None:
        rng = self._rng
        self._campaigns_started += 1
        name = f"{rng.choice(CAMPAIGN_NAMES)} #{self._campaigns_started}"
        contacts = rng.randint(8, 16)
        self._at(at, StartCampaign(slot, name, dialect, contacts))
        t = at
        for _ in range(contacts):
            t += rng.uniform(1.5, 4.0)
            outcome: Outcome = "success" if rng.random() < CONTACT_SUCCESS_RATE else "failed"
            self._at(t, AdvanceCampaign(slot, outcome))
        self._at(t + rng.uniform(6.0, 12.0), _NextCampaign(slot, dialect))


def _spoken(words: list[str]) -> float:
    return max(0.6, len(words) * SECONDS_PER_WORD)
