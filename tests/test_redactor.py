"""Redaction as a call streams: across segment boundaries, interims, holds and their release."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import given, settings

from tests import configs
from tests.spoken import Reading, check, readings
from webapp.relay.redactor import (
    CallRedactor,
    RedactedTranscript,
    Remasked,
    unredacted,
)
from webapp.wire.events import CallStatus, Speaker, Transcript


def final(content: str, speaker: Speaker = "user") -> Transcript:
    return Transcript("CA1", speaker, content)


def interim(content: str, speaker: Speaker = "user") -> Transcript:
    return Transcript("CA1", speaker, content, is_final=False)


def contents(events: list[object]) -> list[str]:
    return [e.content for e in events if isinstance(e, Transcript)]


def test_a_card_split_over_two_segments_is_held_then_masked_in_both() -> None:
    redactor = CallRedactor(configs.redaction())
    assert redactor.feed(final("my card is 4111 1111")) == []
    assert redactor.holding
    out = redactor.feed(final("1111 1111. Thanks"))
    assert contents(out) == ["my card is [card ••••1111]", "[card ••••1111]. Thanks"]
    assert not redactor.holding


def test_the_other_speaker_releases_a_held_segment_first() -> None:
    redactor = CallRedactor(configs.redaction())
    assert redactor.feed(final("order 421")) == []
    out = redactor.feed(final("Thanks.", "assistant"))
    assert [(e.speaker, e.content) for e in out] == [
        ("user", "order 421"),
        ("assistant", "Thanks."),
    ]


def test_the_end_of_the_call_releases_held_segments_before_the_status() -> None:
    redactor = CallRedactor(configs.redaction())
    redactor.feed(final("room 1234"))
    out = redactor.feed(CallStatus("CA1", "completed"))
    assert contents(out) == ["room 1234"] and isinstance(out[-1], CallStatus)


def test_a_number_left_unfinished_by_a_pause_is_masked_and_so_is_its_continuation() -> None:
    """The hold timer (or a reconnect) shows a held segment before its next one came."""
    redactor = CallRedactor(configs.redaction())
    redactor.feed(final("my card is 4111 1111"))
    assert contents(redactor.release()) == ["my card is [digits]"]
    assert contents(redactor.feed(final("1111 1111, sorry"))) == ["[card ••••1111], sorry"]
    assert contents(redactor.feed(final("the 42 of them"))) == ["the 42 of them"]


def test_segments_wholly_before_an_open_number_are_not_held() -> None:
    redactor = CallRedactor(configs.redaction())
    redactor.feed(final("order 123"))
    out = redactor.feed(final("and then 456"))  # "order 123" ended before the new number
    assert contents(out) == ["order 123"]
    assert contents(redactor.release()) == ["and then 456"]


def test_a_number_held_too_long_is_masked_and_so_is_its_continuation() -> None:
    redactor = CallRedactor(configs.redaction(max_held=2))
    redactor.feed(final("four one one"))
    out = redactor.feed(final("one one one"))
    assert contents(out) == ["[digits]", "[digits]"]
    assert contents(redactor.feed(final("two two and bye"))) == ["[digits] and bye"]


def test_interims_mask_an_open_number_and_what_a_held_final_started() -> None:
    redactor = CallRedactor(configs.redaction())
    assert contents(redactor.feed(interim("my card is 4111 11"))) == ["my card is [digits]"]
    redactor.feed(final("my card is 4111 1111"))
    shown = contents(redactor.feed(interim("1111 1111 and")))
    assert shown == ["[card ••••1111] and"]


def test_raw_text_is_kept_only_when_changed_and_allowed_and_never_in_repr() -> None:
    kept = CallRedactor(configs.redaction()).feed(final("mail ada@example.com now"))[0]
    assert isinstance(kept, RedactedTranscript) and kept.raw == "mail ada@example.com now"
    assert "ada@example.com" not in repr(kept)
    assert unredacted(kept) == "mail ada@example.com now"
    plain = CallRedactor(configs.redaction()).feed(final("hello there"))[0]
    assert getattr(plain, "raw", None) is None
    dropped = CallRedactor(configs.redaction(keep_raw=False)).feed(final("ada@example.com"))[0]
    assert getattr(dropped, "raw", None) is None and unredacted(dropped) == "[email]"


def test_a_whole_transcript_at_once_is_redacted_like_a_stream() -> None:
    segments = [final("my card is 4111 1111"), final("1111 1111"), final("ok", "assistant")]
    out = CallRedactor(configs.redaction()).redact_all(segments)
    assert contents(out) == ["my card is [card ••••1111]", "[card ••••1111]", "ok"]


def settled(redactor: CallRedactor, feeds: list[Transcript]) -> tuple[list[str], list[str]]:
    """Every text shown (interims, finals, replacements) and the finals as they stay."""
    shown: list[str] = []
    kept: list[Transcript] = []
    for item in [out for event in feeds for out in redactor.feed(event)] + redactor.release():
        if isinstance(item, Remasked):
            assert any(seg is item.shown for seg in kept), "replaces what was shown"
            kept = [item.segment if seg is item.shown else seg for seg in kept]
            shown.append(item.segment.content)
        elif isinstance(item, Transcript):
            shown.append(item.content)
            kept += [item] if item.is_final else []
    return shown, [seg.content for seg in kept]


def test_a_card_whose_second_part_ends_in_more_digits_is_masked_in_both_parts() -> None:
    """The held group was trimmed to its last segment and forgot the card found in it."""
    for rest, after in (
        ("1111 1111, and the code on the back is 737.", ", and the code on the back is [code]."),
        ("1111 1111, expiry 0927", ", expiry [code]"),
    ):
        shown, kept = settled(
            CallRedactor(configs.redaction()), [final("My card number is 4111 1111"), final(rest)]
        )
        assert kept == ["My card number is [card ••••1111]", f"[card ••••1111]{after}"]
        assert not [text for text in shown if "1111 1111" in text or "737" in text]


def test_a_card_read_in_groups_with_pauses_and_the_other_speaker_between_is_masked() -> None:
    """ "4111" / "1111" / "1111" / "1111 and I want a lawyer", 3 s apart, "Mm-hm" between:
    no part past the sixth digit is ever shown, and once the card is complete every part
    already shown is masked again."""
    redactor = CallRedactor(configs.redaction())
    groups = ["4111", "1111", "1111", "1111 and I want a lawyer"]
    feeds = []
    for group in groups:
        feeds += [final(group), final("Mm-hm.", "assistant")]
    shown, kept = settled(redactor, feeds)
    assert [t for t in kept if t != "Mm-hm."] == [
        "[card ••••1111]",
        "[card ••••1111]",
        "[card ••••1111]",
        "[card ••••1111] and I want a lawyer",
    ]
    assert shown[:4] == ["4111", "Mm-hm.", "[digits]", "Mm-hm."]


def test_a_card_read_in_groups_with_hold_timeouts_between_is_masked() -> None:
    redactor = CallRedactor(configs.redaction())
    out: list[object] = []
    for group in ["4111", "1111", "1111", "1111 and I want a lawyer"]:
        out += redactor.feed(final(group)) + redactor.release()
    remasked = [item for item in out if isinstance(item, Remasked)]
    assert [item.shown.content for item in remasked] == ["4111", "[digits]", "[digits]"]
    assert {item.segment.content for item in remasked} == {"[card ••••1111]"}


def test_an_ssn_read_in_three_parts_is_masked_in_each_once_complete() -> None:
    redactor = CallRedactor(configs.redaction())
    feeds = [final("My social is 123"), final("Okay.", "assistant"), final("45")]
    feeds += [final("Yes.", "assistant"), final("6789.")]
    _, kept = settled(redactor, feeds)
    assert kept == ["My social is [ssn]", "Okay.", "[ssn]", "Yes.", "[ssn]."]


def test_interims_show_a_lone_small_number_its_final_would_show() -> None:
    redactor = CallRedactor(configs.redaction())
    assert contents(redactor.feed(interim("Go down three"))) == ["Go down three"]
    assert contents(redactor.feed(interim("It's 42"))) == ["It's 42"]
    assert contents(redactor.feed(interim("my card is 411"))) == ["my card is [digits]"]
    assert contents(redactor.feed(final("It's 42"))) == ["It's 42"]


def test_interims_mask_the_next_digits_of_a_number_already_begun() -> None:
    redactor = CallRedactor(configs.redaction())
    redactor.feed(final("my card is 4111"))
    assert contents(redactor.release()) == ["my card is 4111"]
    assert contents(redactor.feed(interim("1"))) == ["[digits]"]


def test_a_number_said_over_segments_by_the_other_speaker_is_its_own() -> None:
    """The assistant's digits between the caller's groups neither join nor split them."""
    feeds = [final("4111 1111"), final("Got it, 2 more.", "assistant"), final("1111 1111")]
    _, kept = settled(CallRedactor(configs.redaction()), feeds)
    assert kept == ["[card ••••1111]", "Got it, 2 more.", "[card ••••1111]"]


@settings(max_examples=400, deadline=None)
@given(readings())
def test_planted_values_read_in_any_pieces_never_leave_the_redactor(reading: Reading) -> None:
    """Whatever leaves the redactor (interims, finals, replacements) is clean; and what
    stays once replacements are applied keeps no more than the settled rules allow."""
    redactor = CallRedactor(configs.redaction())
    live: dict[int, list[str]] = defaultdict(list)
    kept: dict[int, Transcript] = {}

    def take(items: list[object]) -> None:
        for item in items:
            segment = item.segment if isinstance(item, Remasked) else item
            if isinstance(segment, Transcript) and segment.speaker == reading.speaker:
                live[int(segment.segment_start or 0)].append(segment.content)
                if segment.is_final:
                    kept[int(segment.segment_start or 0)] = segment

    for i, piece in enumerate(reading.pieces):
        words = piece.split(" ")
        for n in range(1, len(words) + 1):
            take(
                redactor.feed(
                    Transcript("CA1", reading.speaker, " ".join(words[:n]), False, segment_start=i)
                )
            )
        take(redactor.feed(Transcript("CA1", reading.speaker, piece, segment_start=i)))
        gap = reading.gaps[i] if i < len(reading.gaps) else None
        if gap is not None and gap.interim:
            take(redactor.feed(interim("Mm", reading.other)))
        if gap is not None and gap.final:
            take(redactor.feed(final(gap.final, reading.other)))
        if gap is not None and gap.pause:
            take(redactor.release())
    take(redactor.release())
    assert check(reading, live, settled=False) is None, dict(live)
    after = {i: [segment.content] for i, segment in kept.items()}
    assert check(reading, after, settled=True) is None, after
