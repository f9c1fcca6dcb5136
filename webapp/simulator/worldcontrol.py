"""What tests, benchmarks and the demo do to one organisation's world: add calls, say
segments, change a call's status, add and advance campaigns. A mixin of
:class:`~webapp.simulator.server.Simulator`, whose ``store`` holds the world and whose
``session`` broadcasts what changes to the world's live sockets.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

from webapp.simulator import wire
from webapp.simulator.drivers import burst
from webapp.simulator.handshake import parse_route
from webapp.simulator.model import DIALECTS, Dialect, Outcome, Store
from webapp.simulator.oss import live_status

if TYPE_CHECKING:
    from webapp.simulator.server import Simulator
    from webapp.simulator.session import Session


class WorldControl:
    session: Session
    store: Store
    oss_quirks: bool
    campaign_dialect: Dialect | None

    def add_call(
        self,
        sid: str | None = None,
        status: str = "in-progress",
        assistant_name: str = "Support bot",
        customer_phone: str = "+15550100",
    ) -> str:
        """Create a call (``CA`` + 32 hex from the seed if ``sid`` is None); returns its sid.

        Raises ValueError for a sid Burki would not route or one already taken.
        """
        if sid is not None and parse_route(f"/live-transcript/{sid}") is None:
            raise ValueError(f"not a valid call sid: {sid!r}")
        return self.store.add_call(sid, status, assistant_name, customer_phone).call_sid

    def add_segment(
        self,
        sid: str,
        speaker: str,
        content: str,
        is_final: bool = True,
        confidence: float | None = 0.95,
    ) -> None:
        """Broadcast a segment live; a final one also joins the replayed history.

        Raises KeyError for an unknown call, ValueError for a bad speaker.
        """
        segment = self.store.add_segment(sid, speaker, content, is_final, confidence)
        frame = wire.transcript(sid, segment, self.store.clock(), self.oss_quirks)
        self.session.broadcast(f"call:{sid}", [frame])

    async def burst(
        self, sid: str, contents: Iterable[str], per_second: float | None = None
    ) -> None:
        """Say ``contents`` (the caller's final segments) at ``per_second`` (None: at once),
        on a schedule that waits for nobody; returns once the last one is broadcast. Each
        is drawn when it is due (a generator may stamp its send time)."""
        await burst(cast("Simulator", self), sid, contents, per_second)

    def set_call_status(self, sid: str, status: str) -> None:
        """Broadcast ``call_status``; ``completed`` and ``failed`` end the call (it stays
        listed until ``max_finished`` later calls ended; its sockets stay open)."""
        call = self.store.set_call_status(sid, status)
        now = self.store.clock()
        frame = live_status(call, now) if self.oss_quirks else wire.call_status(call, now, False)
        self.session.broadcast(f"call:{sid}", [frame])

    def add_campaign(
        self,
        name: str = "Renewals",
        dialect: Dialect | None = None,
        contacts: int = 20,
        campaign_id: int | None = None,
    ) -> int:
        """Create a running campaign; returns its id. ``dialect`` None: the simulator's
        ``campaign_dialect``, else B (the SDK's)."""
        chosen = dialect or self.campaign_dialect or "B"
        if chosen not in DIALECTS:
            raise ValueError("dialect must be 'A', 'B' or 'C'")
        return self.store.add_campaign(name, chosen, contacts, campaign_id).id

    def advance_campaign(self, campaign_id: int, outcome: Outcome = "success") -> None:
        """Complete the next contact and broadcast it in the campaign's dialect (after the
        last one, the end). KeyError: unknown campaign; ValueError: none left."""
        self.session.advance(campaign_id, outcome)
