"""Page views of a stream: the context of a first render, and the HTML of each update.

A view turns a stream's state into template context, and a frame into the
fragments htmx swaps: each one a named block of the page's own template,
rendered alone and wrapped in an ``<hx-partial>`` that names its target. The
stream calls :meth:`View.update` once per frame, when the frame is emitted,
for every view that watches it; every viewer of that view gets the same bytes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from webapp.calls.callstate import CallState
from webapp.calls.campaignstate import CampaignState
from webapp.calls.change import iso
from webapp.calls.health import HealthConfig, Summary, Timeline, measure
from webapp.delivery import htmlsse
from webapp.pages.charts import chart, sparkline
from webapp.pages.templating import dom_id, render_block
from webapp.relay.frames import Frame
from webapp.wire.callinfo import CallInfo
from webapp.wire.streamkey import DEFAULT_ORG, StreamKey, org_path

# A call no health was measured for (a call's stream always measures: a stand-in only).
# Its thresholds are not the settings' (the pages do not hold them): shown as 0.
UNMEASURED = HealthConfig(silence_warn=0.0, silence_alarm=0.0, slow_response=0.0, long_call=0.0)
NO_FIGURES = measure(Timeline([]), 0.0, UNMEASURED, Summary())
RANKS = 20  # the wallboard sorts cards by attention in steps of 100 / RANKS points

MAX_SHOWN_ALERTS = 5
CAPTION_LINES = 3
CARD_LINES = 3


class Watched(Protocol):
    """What a view reads of a stream."""

    @property
    def state(self) -> CallState | CampaignState: ...
    def view_state(self, *, transcript: bool = True) -> dict[str, Any]: ...
    @property
    def connection(self) -> dict[str, Any]: ...
    @property
    def key(self) -> StreamKey: ...


@dataclass(frozen=True, slots=True)
class Region:
    """A live region: a named block, the element it replaces, and how."""

    block: str
    target: str
    swap: str = "outerHTML"
    extra: dict[str, Any] | None = None  # context of this region alone (e.g. which segment)


class PageContext(Protocol):
    """A page's context, typed: the template reads its fields by name."""

    def template(self) -> dict[str, Any]: ...


def fields_of(context: object) -> dict[str, Any]:
    """A context dataclass's fields by name, as a template reads them (not deep: the
    nested dataclasses stay objects, read by attribute)."""
    return {f.name: getattr(context, f.name) for f in dataclasses.fields(context)}  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class View:
    name: str
    template: str
    build: Callable[[Watched], PageContext]
    regions: Callable[[Watched, Frame | None], list[Region]]

    def context(self, stream: Watched) -> dict[str, Any]:
        """The template's context of a first render (the typed one is :attr:`build`'s)."""
        return self.build(stream).template()

    def full(self, stream: Watched) -> bytes:
        """Every region, for a first message or after a reset."""
        return self._message(stream, self.regions(stream, None))

    def update(self, stream: Watched, frame: Frame) -> bytes:
        return self._message(stream, self.regions(stream, frame))

    def _message(self, stream: Watched, regions: list[Region]) -> bytes:
        context = self.context(stream)
        parts = [
            htmlsse.partial(
                r.target, r.swap, render_block(self.template, r.block, context | (r.extra or {}))
            )
            for r in regions
        ]
        return htmlsse.message("".join(parts))


# -- calls ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallHead:
    """The call's line: status, its times, who is on it."""

    status: str
    ended: bool
    started_at: str | None
    ended_at: str | None
    assistant: str | None
    customer: str | None
    no_activity: bool


@dataclass(frozen=True, slots=True)
class Mood:
    """The caller's sentiment: rolling average, how many lines scored, the trend's points."""

    average: float | None
    count: int
    trend: str


@dataclass(frozen=True, slots=True)
class CallContext:
    """What the call page, its captions and its wallboard card render (``call.html``,
    ``captions.html``, ``partials/card.html``)."""

    key: StreamKey
    sid: str
    conn: dict[str, Any]
    call: CallHead
    segments: Sequence[dict[str, Any]]  # built as read: an update reads the last lines only
    last_segment: dict[str, Any] | None
    interim_pairs: list[tuple[str, dict[str, Any] | None]]
    caption_lines: list[dict[str, Any]]
    card_lines: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    alarmed: set[object]
    m: dict[str, Any]  # the health figures (``metrics``), attention included
    rank: int
    claim: dict[str, Any] | None
    action: dict[str, Any] | None
    sentiment: Mood
    card_id: str  # the card's element id, unique across organisations
    home: str  # the path prefix of its organisation's pages ("" for the default one)
    org: str = ""  # its organisation's name on a board that shows several

    def template(self) -> dict[str, Any]:
        return fields_of(self)


def card_id(key: StreamKey) -> str:
    """A call's card element id: ``card-<sid>`` as ever for the default organisation, the
    whole key for another (the same call id in two organisations is two cards)."""
    return "card-" + dom_id(key.id if key.org == DEFAULT_ORG else str(key))


def call_context(stream: Watched) -> CallContext:
    """The call's context, O(1) in its length: every frame of a page view builds one, and
    only a region that shows the whole transcript (a snapshot's) reads every segment."""
    snapshot = stream.view_state(transcript=False)
    state = stream.state
    segments: Sequence[dict[str, Any]] = state.finals if isinstance(state, CallState) else ()
    alerts = snapshot.get("alerts", [])
    sentiment = snapshot.get("sentiment") or {}
    interims = snapshot["interims"]
    info = state.info if isinstance(state, CallState) else CallInfo()
    figures = snapshot.get("metrics") or NO_FIGURES
    score = (figures.get("attention") or {}).get("score", 0)
    key = stream.key
    return CallContext(
        key=key,
        sid=key.id,
        conn=stream.connection,
        call=_head(stream, snapshot, info, figures),
        segments=segments,
        last_segment=segments[-1] if segments else None,
        interim_pairs=[(s, interims.get(s)) for s in ("user", "assistant")],
        caption_lines=list(segments[-CAPTION_LINES:]),
        card_lines=list(segments[-CARD_LINES:]),
        alerts=alerts[::-1][:MAX_SHOWN_ALERTS],
        alarmed={a.get("segment_index") for a in alerts},
        m=figures,
        rank=min(score * RANKS // 100, RANKS),
        claim=snapshot.get("claim"),
        action=snapshot.get("action"),
        sentiment=Mood(
            sentiment.get("average"),
            sentiment.get("count", 0),
            sparkline(sentiment.get("trend") or []),
        ),
        card_id=card_id(key),
        home=org_path(key.org, ""),  # the stream's organisation's URLs start here
    )


def _head(
    stream: Watched, snapshot: dict[str, Any], info: CallInfo, figures: dict[str, Any]
) -> CallHead:
    metadata = snapshot["metadata"]
    ended = snapshot["ended"]
    return CallHead(
        status=snapshot["status"],
        ended=ended,
        started_at=metadata.get("started_at"),
        # An ended call's end by Burki's length (the open-source server's end status
        # carries no ``ended_at``; the stream asks its REST when neither came), else
        # its ``ended_at``, else the health's end: an ended call's clock stands still.
        ended_at=(iso(info.ended_by_length) if ended else None)
        or metadata.get("ended_at")
        or (figures.get("ended_at") if ended else None),
        assistant=info.assistant_name or getattr(stream, "assistant_hint", None),
        # The live start's shape names the caller from_number (inbound calls).
        customer=info.caller,
        no_activity=snapshot.get("no_activity", False),
    )


def tagged_card(names: Callable[[str], str]) -> View:
    """The card of a board that shows several organisations: tagged with its call's
    organisation's name (``names``: slug -> name). Its own view, so a board of one
    organisation renders its cards exactly as before."""

    def build(stream: Watched) -> CallContext:
        return dataclasses.replace(call_context(stream), org=names(stream.key.org))

    return View("orgcard", "wallboard.html", build, _card_regions)


CONNECTION = Region("connection", "#conn")


def _call_regions(stream: Watched, frame: Frame | None) -> list[Region]:
    everything = [
        Region("call_status", "#call-status"),
        CONNECTION,
        Region("health", "#health"),
        Region("claim", "#claim"),
        Region("segments", "#transcript", "innerHTML"),
        Region("interims", "#interims", "innerHTML"),
    ]
    if frame is None or frame.type in ("snapshot", "reset"):
        return everything
    if frame.type == "call_status":  # an ended call takes no more claims
        return [Region("call_status", "#call-status"), Region("claim", "#claim")]
    if frame.type == "status":
        return [CONNECTION]
    if frame.type == "sentiment":
        return [Region("sentiment", "#sentiment")]
    if frame.type == "metrics":
        return [Region("health", "#health")]
    if frame.type == "claim":
        return [Region("claim", "#claim")]
    if frame.type == "action":
        return [Region("action", "#action-note")]
    if frame.type == "alert":
        return [Region("alerts", "#alerts"), *_alarmed_segment(stream, frame)]
    if frame.type == "redacted":  # a line shown before was masked further
        return _one_segment(stream, frame.data["segment"]["index"])
    if frame.type != "transcript":
        return []
    return [*_segment_regions(stream, frame), *_riders(frame)]


def _segment_regions(stream: Watched, frame: Frame) -> list[Region]:
    segment = frame.data["segment"]
    if not segment["is_final"]:
        return [Region("interims", "#interims", "innerHTML")]
    state = stream.state
    assert isinstance(state, CallState)
    appended = segment["index"] == state.final_count - 1
    return [
        Region("last_segment", "#transcript", "beforeend")
        if appended
        else Region("segments", "#transcript", "innerHTML"),
        Region("interims", "#interims", "innerHTML"),
    ]


def _riders(frame: Frame) -> list[Region]:
    """The sentiment and the figures that ride in a segment's event, redrawn with it."""
    found = []
    if "sentiment" in frame.data:
        found.append(Region("sentiment", "#sentiment"))
    if "metrics" in frame.data:
        found.append(Region("health", "#health"))
    return found


def _alarmed_segment(stream: Watched, frame: Frame) -> list[Region]:
    """The line that raised the alert, redrawn highlighted."""
    return _one_segment(stream, frame.data.get("segment_index"))


def _one_segment(stream: Watched, index: object) -> list[Region]:
    """One final line redrawn as the state holds it now."""
    state = stream.state
    found = (
        state.segment(index) if isinstance(state, CallState) and isinstance(index, int) else None
    )
    if found is None:
        return []
    return [Region("one_segment", f"#seg-{index}", extra={"seg": found})]


def _caption_regions(stream: Watched, frame: Frame | None) -> list[Region]:
    if frame is not None and frame.type == "status":
        return [CONNECTION]
    if frame is None or frame.type in (
        "snapshot",
        "reset",
        "transcript",
        "redacted",
        "call_status",
    ):
        return [Region("captions", "#captions", "innerHTML"), CONNECTION]
    return []


def _card_regions(stream: Watched, frame: Frame | None) -> list[Region]:
    if frame is not None and frame.type in ("end", "error"):
        return []
    return [Region("card", f"#{card_id(stream.key)}")]


# -- campaigns -----------------------------------------------------------------------------


ENDED_CAMPAIGN = {"state": "ended", "message": "The campaign is over: Burki sends nothing more."}
"""An ended campaign's connection line: never "Connecting" beside "Finished"."""


@dataclass(frozen=True, slots=True)
class CampaignContext:
    """What the campaign page renders (``campaign.html``)."""

    key: StreamKey
    campaign_id: str
    home: str  # the path prefix of its organisation's pages ("" for the default one)
    conn: dict[str, Any]
    campaign: dict[str, Any]  # the campaign state's snapshot
    counters: dict[str, Any]
    chart: dict[str, Any]  # the progress chart's points and labels
    action: dict[str, Any] | None

    def template(self) -> dict[str, Any]:
        return fields_of(self)


def campaign_context(stream: Watched) -> CampaignContext:
    state = stream.state
    assert isinstance(state, CampaignState)
    snapshot = state.snapshot()
    return CampaignContext(
        key=stream.key,
        campaign_id=stream.key.id,
        home=org_path(stream.key.org, ""),
        conn=ENDED_CAMPAIGN if snapshot["ended"] else stream.connection,
        campaign=snapshot,
        counters=snapshot["counters"],
        chart=chart(snapshot["history"]),
        action=stream.view_state().get("action"),
    )


def _campaign_regions(stream: Watched, frame: Frame | None) -> list[Region]:
    head = Region("campaign_head", "#campaign-head")
    progress = Region("progress", "#progress")
    charted = Region("chart", "#chart")
    contacts = Region("contacts", "#contacts", "innerHTML")
    summary = Region("summary", "#summary")
    if frame is None or frame.type in ("snapshot", "reset"):
        return [head, progress, charted, contacts, summary, CONNECTION]
    return {
        "progress": [head, progress, charted],
        "contact": [contacts],
        "campaign_completed": [head, progress, charted, summary, CONNECTION],
        "history": [charted],
        "campaign_name": [head],
        "action": [Region("action", "#action-note")],
        "status": [CONNECTION],
    }.get(frame.type, [])


CALL = View("call", "call.html", call_context, _call_regions)
CAPTIONS = View("captions", "captions.html", call_context, _caption_regions)
CARD = View("card", "wallboard.html", call_context, _card_regions)
CAMPAIGN = View("campaign", "campaign.html", campaign_context, _campaign_regions)
