"""A call's state: status, transcript, and dedupe of Burki's replay on every connect."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any, Literal

from hypothesis import given, note, settings
from hypothesis import strategies as st

from tests import configs
from webapp.relay.callstate import CallState
from webapp.relay.frames import Change, render
from webapp.relay.redactor import CallRedactor, Remasked
from webapp.wire.events import CallStatus, Connected, Pong, Speaker, Transcript, UpstreamError

SID = "CA" + "0123456789abcdef" * 2
T0 = datetime(2025, 8, 1, 10, 0, 0, tzinfo=UTC)


def said(
    content: str,
    speaker: Speaker = "user",
    *,
    start: float | None = None,
    end: float | None = None,
    created: int | None = None,
    final: bool = True,
) -> Transcript:
    """A segment; ``created`` is seconds after T0."""
    return Transcript(
        call_sid=SID,
        speaker=speaker,
        content=content,
        is_final=final,
        segment_start=start,
        segment_end=end,
        created_at=None if created is None else T0 + timedelta(seconds=created),
        at=T0,
    )


def feed(state: CallState, events: Iterable[Transcript | CallStatus]) -> list[Change]:
    return [change for event in events for change in state.apply(event)]


def words(state: CallState) -> list[str]:
    return [segment["content"] for segment in state.segments]


# -- the replay on every connect ----------------------------------------------------------

HELD = [
    said("Hello, how can I help?", "assistant", start=0.0, end=1.5, created=1),
    said("I want to move my appointment.", start=2.0, end=4.0, created=4),
    said("Sure, to when?", "assistant", start=4.5, end=5.5, created=6),
]


def test_a_replay_after_reconnect_drops_everything_held() -> None:
    state = CallState(SID)
    state.connection_started()
    assert len(feed(state, HELD)) == 3
    state.connection_started()
    assert feed(state, HELD) == []
    assert state.dedupe_drops == 3
    assert len(state.segments) == 3


def test_a_live_segment_interleaved_with_the_replay_is_shown_once() -> None:
    state = CallState(SID)
    feed(state, HELD[:2])
    live = said("Friday, please.", start=6.0, end=7.0, created=8)
    state.connection_started()
    changes = feed(state, [HELD[0], live, HELD[1], HELD[2], live])  # live, and in the replay
    assert [change.data["segment"]["content"] for change in changes] == [
        "Friday, please.",
        "Sure, to when?",
    ]
    assert words(state) == [s.content for s in HELD] + ["Friday, please."]


def test_yes_said_twice_without_timing_is_kept_twice_and_survives_a_replay() -> None:
    state = CallState(SID)
    state.connection_started()
    assert len(feed(state, [said("yes"), said("yes")])) == 2
    state.connection_started()
    assert feed(state, [said("yes"), said("yes")]) == []
    assert len(feed(state, [said("yes")])) == 1  # a third one, said after the replay
    assert words(state) == ["yes", "yes", "yes"]
    assert state.dedupe_drops == 2


def test_polled_rest_segments_dedupe_against_websocket_ones_by_created_at() -> None:
    state = CallState(SID)
    feed(state, HELD)
    state.connection_started()  # a REST poll batch: created_at, no timing
    polled = [said(s.content, s.speaker, created=c) for s, c in zip(HELD, (1, 4, 6), strict=True)]
    new = said("Friday, please.", created=9)
    assert feed(state, polled) == []
    assert len(state.apply(new)) == 1
    state.connection_started()  # the next poll returns it all again
    assert feed(state, [*polled, new]) == []
    assert words(state)[-1] == "Friday, please."
    assert state.dedupe_drops == 7
    state.connection_started()  # the socket is back: its replay carries timing too
    assert feed(state, [*HELD, said("Friday, please.", start=6.0, end=7.0, created=9)]) == []


def test_a_live_copy_with_another_created_at_still_dedupes_the_stored_one() -> None:
    state = CallState(SID)
    feed(state, [said("Hi", start=0.0, end=1.0, created=2)])  # live: created when broadcast
    state.connection_started()
    assert state.apply(said("Hi", start=0.0, end=1.0, created=1)) == []  # replay: the stored row
    assert state.apply(said("Hi", created=1)) == []  # REST: the stored row, no timing


def test_a_segment_missed_while_disconnected_is_placed_before_a_newer_live_one() -> None:
    state = CallState(SID)
    feed(state, [said("one", created=1)])
    state.connection_started()
    live = state.apply(said("three", created=3))
    missed = state.apply(said("two", created=2))  # only the replay has it, and it came late
    assert [c.data["segment"]["index"] for c in live + missed] == [1, 1]
    assert words(state) == ["one", "two", "three"]


# -- interim segments ----------------------------------------------------------------------


def test_an_interim_is_replaced_by_the_next_one_and_then_by_its_final() -> None:
    state = CallState(SID)
    first = state.apply(said("I want", final=False))
    assert first[0].data["segment"] | {"at": None} == {
        "index": None,
        "speaker": "user",
        "content": "I want",
        "is_final": False,
        "confidence": None,
        "start": None,
        "end": None,
        "created_at": None,
        "at": None,
    }
    assert state.apply(said("I want to", final=False))
    assert state.apply(said("I want to", final=False)) == []  # the same again: no change
    assert state.snapshot()["interims"]["user"]["content"] == "I want to"
    final = state.apply(said("I want to move it.", start=2.0, end=4.0))
    assert final[0].data["segment"]["is_final"] is True
    assert final[0].data["segment"]["index"] == 0
    assert state.snapshot()["interims"] == {}


def test_two_speakers_interims_are_independent() -> None:
    state = CallState(SID)
    feed(state, [said("Let me", "assistant", final=False), said("Um", final=False)])
    feed(state, [said("Um, yes", final=False)])
    assert {s: seg["content"] for s, seg in state.snapshot()["interims"].items()} == {
        "assistant": "Let me",
        "user": "Um, yes",
    }
    feed(state, [said("Um, yes.", start=1.0)])
    assert list(state.snapshot()["interims"]) == ["assistant"]


def test_a_late_interim_of_a_final_already_held_is_ignored() -> None:
    state = CallState(SID)
    state.apply(said("Done.", start=3.0, end=4.0))
    assert state.apply(said("Done.", start=3.0, end=4.0, final=False)) == []
    assert state.snapshot()["interims"] == {}


# -- status ---------------------------------------------------------------------------------


def status(value: str, **metadata: Any) -> CallStatus:
    return CallStatus(call_sid=SID, status=value, at=T0, metadata=metadata)


def test_a_status_change_is_a_change_and_a_repeat_is_not() -> None:
    state = CallState(SID)
    changes = state.apply(status("in-progress", assistant_id=7))
    assert changes == [
        Change(
            "call_status",
            {
                "status": "in-progress",
                "metadata": {"assistant_id": 7},
                "ended": False,
                "no_activity": False,
                "at": "2025-08-01T10:00:00Z",
            },
        )
    ]
    assert state.apply(status("in-progress", assistant_id=7)) == []
    assert state.apply(status("in-progress")) == []  # metadata is merged, not erased
    assert state.apply(status("in-progress", to_phone_number="+15550100"))
    assert state.metadata == {"assistant_id": 7, "to_phone_number": "+15550100"}


def test_a_terminal_status_ends_the_call_and_a_stale_one_cannot_revive_it() -> None:
    state = CallState(SID)
    state.apply(status("in-progress"))
    [change] = state.apply(status("completed"))
    assert change.data["ended"] is True
    assert state.ended
    assert state.apply(status("in-progress")) == []
    assert state.status == "completed"


def test_metadata_that_json_cannot_hold_is_made_safe_to_render() -> None:
    state = CallState(SID)
    [change] = state.apply(status("in-progress", score=float("nan")))
    render("e-1", change.type, change.data)
    assert state.metadata == {}  # NaN reads as null, and a null never overwrites a value


def test_events_of_no_concern_to_a_call_change_nothing() -> None:
    state = CallState(SID)
    for event in (Connected(at=T0), Pong(), UpstreamError("other", "boom")):
        assert state.apply(event) == []


def test_snapshot_holds_the_whole_state_with_utc_timestamps() -> None:
    state = CallState(SID)
    feed(state, [status("in-progress"), *HELD, said("So", "assistant", final=False)])
    snapshot = state.snapshot()
    assert set(snapshot) == {"status", "metadata", "segments", "interims", "ended", "no_activity"}
    assert [s["index"] for s in snapshot["segments"]] == [0, 1, 2]
    assert snapshot["segments"][0]["created_at"] == "2025-08-01T10:00:01Z"
    assert snapshot["interims"]["assistant"]["content"] == "So"
    render("e-1", "snapshot", snapshot)


# -- the property: every reconnect replays everything so far, live segments interleaved ---

Kind = Literal["created", "timed", "both", "none"]


@dataclass(frozen=True)
class Utterance:
    n: int
    speaker: Speaker
    content: str
    kind: Kind

    def event(self) -> Transcript:
        timed = self.kind in ("timed", "both")
        return said(
            self.content,
            self.speaker,
            start=self.n * 2.0 if timed else None,
            end=self.n * 2.0 + 1.5 if timed else None,
            created=self.n + 1 if self.kind in ("created", "both") else None,
        )

    def identity(self) -> tuple[Any, ...]:
        return _identity(self.event())


def _identity(segment: Transcript | dict[str, Any]) -> tuple[Any, ...]:
    if isinstance(segment, Transcript):
        created = (
            segment.created_at.isoformat().replace("+00:00", "Z") if segment.created_at else None
        )
        return (segment.speaker, segment.content, segment.segment_start, created)
    return (segment["speaker"], segment["content"], segment["start"], segment["created_at"])


SPEAKERS: list[Speaker] = ["user", "assistant"]
Delivery = list[tuple[Utterance, bool]]  # (utterance, whether it came live)


def utterances(kinds: Sequence[Kind]) -> st.SearchStrategy[list[Utterance]]:
    one = st.tuples(
        st.sampled_from(SPEAKERS),
        st.sampled_from(["yes", "no", "ok"]),
        st.sampled_from(kinds),
    )
    return st.lists(one, max_size=14).map(
        lambda items: [Utterance(n, *item) for n, item in enumerate(items)]
    )


def interleave(draw: st.DrawFn, replay: list[Utterance], live: list[Utterance]) -> Delivery:
    """Any merge of the two, each kept in its own order."""
    picks = draw(st.lists(st.booleans(), min_size=len(replay) + len(live)))
    out: Delivery = []
    r, v = list(replay), list(live)
    for pick_live in picks:
        if (pick_live and v) or not r:
            if v:
                out.append((v.pop(0), True))
        else:
            out.append((r.pop(0), False))
    return out + [(u, False) for u in r] + [(u, True) for u in v]


@st.composite
def sessions(
    draw: st.DrawFn, kinds: Sequence[Kind], overlap: bool
) -> tuple[list[Utterance], list[Delivery]]:
    """The truth, cut into connections; each replays all finals so far (plus, with
    ``overlap``, some of its own live ones too) with its live segments interleaved."""
    truth = draw(utterances(kinds))
    cuts = sorted(draw(st.lists(st.integers(0, len(truth)), max_size=4)))
    bounds = [0, *cuts, len(truth)]
    connections = []
    for a, b in pairwise(bounds):
        live = truth[a:b]
        also_replayed = draw(st.integers(0, len(live))) if overlap else 0
        connections.append(interleave(draw, truth[:a] + live[:also_replayed], live))
    return truth, connections


def play(connections: list[Delivery]) -> tuple[CallState, list[dict[str, Any]]]:
    """Feed every connection; also keep a viewer's list, built from the changes alone."""
    state, viewer = CallState(SID), list[dict[str, Any]]()
    for delivery in connections:
        state.connection_started()
        for utterance, _ in delivery:
            for change in state.apply(utterance.event()):
                segment = change.data["segment"]
                viewer.insert(segment["index"], segment)
    return state, viewer


@settings(max_examples=100, deadline=None)
@given(sessions(kinds=["created", "timed", "both"], overlap=True))
def test_identified_segments_come_out_exactly_once_in_order_whatever_the_replays(
    case: tuple[list[Utterance], list[Delivery]],
) -> None:
    truth, connections = case
    state, viewer = play(connections)
    expected = [u.identity() for u in truth]
    assert [_identity(s) for s in state.segments] == expected
    assert [_identity(s) for s in viewer] == expected


def _ambiguous(connections: list[Delivery]) -> bool:
    """A live identity-less segment arrived before a replayed copy of the same words:
    nothing tells the two apart, so only the count is certain, not the position."""
    for delivery in connections:
        live_words = set()
        for utterance, live in delivery:
            words = (utterance.speaker, utterance.content)
            if utterance.kind != "none":
                continue
            if live:
                live_words.add(words)
            elif words in live_words:
                return True
    return False


@settings(max_examples=100, deadline=None)
@given(sessions(kinds=["created", "timed", "both", "none"], overlap=False))
def test_identity_less_segments_come_out_exactly_once_whatever_the_replays(
    case: tuple[list[Utterance], list[Delivery]],
) -> None:
    truth, connections = case
    state, viewer = play(connections)
    expected = [u.identity() for u in truth]
    got = [_identity(s) for s in state.segments]
    assert Counter(got) == Counter(expected)
    assert [_identity(s) for s in viewer] == got
    note(f"ambiguous: {_ambiguous(connections)}")
    if not _ambiguous(connections):
        assert got == expected


@st.composite
def sessions_with_gaps(draw: st.DrawFn) -> tuple[list[Utterance], list[Delivery]]:
    """Like ``sessions``, but what is said while disconnected only comes in the next replay."""
    truth = draw(utterances(["created", "both"]))
    cuts = sorted(draw(st.lists(st.integers(0, len(truth)), max_size=4)))
    bounds = [0, *cuts, len(truth)]
    connections, delivered = [], 0
    for a, b in pairwise(bounds):
        heard_live = a + draw(st.integers(0, b - a)) if b < len(truth) else b
        connections.append(interleave(draw, truth[:a], truth[a:heard_live]))
        delivered = heard_live
    return truth[:delivered], connections


@settings(max_examples=100, deadline=None)
@given(sessions_with_gaps())
def test_segments_missed_while_disconnected_land_in_order(
    case: tuple[list[Utterance], list[Delivery]],
) -> None:
    truth, connections = case
    state, viewer = play(connections)
    expected = [u.identity() for u in truth]
    assert [_identity(s) for s in state.segments] == expected
    assert [_identity(s) for s in viewer] == expected


def test_one_segment_and_the_count_are_read_without_building_the_list() -> None:
    state = CallState("CA1")
    for n in range(3):
        state.apply(Transcript("CA1", "user", f"line {n}", segment_start=float(n)))
    assert state.final_count == 3
    assert state.segment(1) == state.segments[1]
    assert state.segment(3) is None and state.segment(-1) is None


def test_a_remasked_final_is_replaced_in_place_and_its_replay_still_recognised() -> None:
    state = CallState("CA1")
    redactor = CallRedactor(configs.redaction())
    said = ["4111", "1111", "1111", "1111 thanks"]
    changes = []
    for n, group in enumerate(said):
        segment = Transcript("CA1", "user", group, segment_start=float(n), segment_end=n + 0.5)
        for item in redactor.feed(segment) + redactor.release():
            changes += state.apply(item)
    redacted = [c for c in changes if c.type == "redacted"]
    assert [c.data["segment"]["index"] for c in redacted] == [0, 1, 2]
    assert [s["content"] for s in state.segments] == ["[card ••••1111]"] * 3 + [
        "[card ••••1111] thanks"
    ]
    assert state.apply(Remasked(Transcript("CA1", "user", "unknown"), segment)) == []
    replayed = CallRedactor(configs.redaction())  # Burki replays the call on a reconnect
    for n, group in enumerate(said):
        segment = Transcript("CA1", "user", group, segment_start=float(n), segment_end=n + 0.5)
        for item in replayed.feed(segment) + replayed.release():
            assert state.apply(item) == []
    assert state.final_count == 4
