"""Page views: which regions each frame redraws, rendered from the state, escaped."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from webapp.calls.callstate import CallState
from webapp.calls.campaignstate import CampaignState
from webapp.calls.change import Change
from webapp.pages import overviewcontext, views
from webapp.relay.frames import Frame, render
from webapp.wire.events import Transcript
from webapp.wire.streamkey import StreamKey

SID = "CA1"
KEY = StreamKey.call(SID)


@dataclass
class Watched:
    """What a view reads of a stream, without a stream: a state and a connection."""

    state: CallState | CampaignState
    key: StreamKey = KEY
    connection: dict[str, Any] = field(
        default_factory=lambda: {"state": "live", "message": "Connected to Burki."}
    )

    def view_state(self, *, transcript: bool = True) -> dict[str, Any]:
        if isinstance(self.state, CallState):
            return self.state.snapshot(transcript=transcript)
        return self.state.snapshot()


def apply(watched: Watched, event: Transcript) -> Frame:
    [change] = watched.state.apply(event)
    return as_frame(change)


def as_frame(change: Change) -> Frame:
    return render("e-1", change.type, change.data, KEY)


def said(content: str, final: bool = True) -> Transcript:
    return Transcript(call_sid=SID, speaker="user", content=content, is_final=final)


def targets(html: bytes) -> list[str]:
    text = html.decode()
    return [part.split('"', 1)[0] for part in text.split('<hx-partial hx-target="')[1:]]


def test_a_snapshot_redraws_every_region_of_the_call_page() -> None:
    watched = Watched(CallState(SID))
    html = views.CALL.full(watched)
    assert targets(html) == [
        "#call-status",
        "#conn",
        "#health",
        "#claim",
        "#transcript",
        "#interims",
    ]
    assert html.startswith(b"data: ") and html.endswith(b"\n\n")  # one unnamed SSE message


def test_a_final_segment_at_the_end_is_appended_not_the_whole_transcript_redrawn() -> None:
    watched = Watched(CallState(SID))
    apply(watched, said("first"))
    frame = apply(watched, said("second"))
    html = views.CALL.update(watched, frame)
    assert targets(html) == ["#transcript", "#interims"]
    assert b'hx-swap="beforeend"' in html and b"second" in html and b"first" not in html


def test_an_interim_redraws_only_the_interims_and_a_status_only_the_connection() -> None:
    watched = Watched(CallState(SID))
    assert targets(views.CALL.update(watched, apply(watched, said("typing", False)))) == [
        "#interims"
    ]
    status = render("", "status", watched.connection, KEY)
    assert targets(views.CALL.update(watched, status)) == ["#conn"]
    assert targets(views.CAPTIONS.update(watched, status)) == ["#conn"]


def test_segment_text_is_escaped_in_every_view() -> None:
    watched = Watched(CallState(SID))
    frame = apply(watched, said("<script>alert(1)</script>"))
    for view in (views.CALL, views.CAPTIONS, views.CARD):
        html = view.update(watched, frame)
        assert b"<script>" not in html and b"&lt;script&gt;" in html


def test_a_card_stops_redrawing_at_the_end_and_a_campaign_name_redraws_the_head() -> None:
    call = Watched(CallState(SID))
    assert views.CARD.update(call, as_frame(Change("end", {"reason": "call ended"}))) == (
        b"data: \n\n"
    )
    state = CampaignState(7)
    [renamed] = state.rename("Spring renewals")
    html = views.CAMPAIGN.update(Watched(state, key=StreamKey.campaign(7)), as_frame(renamed))
    assert targets(html) == ["#campaign-head"] and b"Spring renewals" in html


def test_page_contexts_are_dataclasses_the_templates_read_by_attribute() -> None:
    """Issue 22: a page's context is typed, not a loose dict (the template reads the same
    names, by attribute)."""
    call = views.call_context(Watched(CallState(SID)))
    assert dataclasses.is_dataclass(call) and isinstance(call, views.CallContext)
    assert (call.sid, call.call.ended, call.sentiment.count, call.card_id) == (
        SID,
        False,
        0,
        "card-CA1",
    )
    assert views.CALL.context(Watched(CallState(SID)))["call"] == call.call
    campaign = views.campaign_context(Watched(CampaignState(7), key=StreamKey.campaign(7)))
    assert isinstance(campaign, views.CampaignContext) and campaign.campaign_id == "7"
    overview = overviewcontext.context([], overviewcontext.Filters(), None, 20)
    assert isinstance(overview, overviewcontext.OverviewContext) and overview.calls == []


def test_a_call_id_of_two_organisations_is_two_cards_and_the_default_ones_id_is_as_before() -> None:
    default, other = StreamKey.call("CA.1"), StreamKey.call("CA.1", "globex")
    assert views.card_id(default) == "card-CA_2e1"  # as the one-organisation board had it
    assert views.card_id(other) == "card-globex_2fcall_3aCA_2e1"
    # dom_id is one-to-one and a call id holds no "/": no default id can give another's
    assert views.card_id(StreamKey.call("globex.call:CA.1")) != views.card_id(other)
    context = views.call_context(Watched(CallState("CA.1"), key=other))
    assert (context.home, context.org) == ("/o/globex", "")
