from webapp.delivery import cursor
from webapp.wire.streamkey import StreamKey

CA1 = StreamKey.call("CA1")

A = StreamKey.call("CA1")
B = StreamKey.campaign(4)


def test_a_cursor_round_trips_every_position() -> None:
    text = cursor.encode({A: "3f9a0c1e-17", B: "0b7d2a55-9"})
    assert text == "call:CA1=3f9a0c1e-17,campaign:4=0b7d2a55-9"
    assert cursor.decode(text, [A, B]) == {A: "3f9a0c1e-17", B: "0b7d2a55-9"}


def test_no_cursor_means_new_viewer_for_every_stream() -> None:
    assert cursor.decode(None, [A, B]) == {A: None, B: None}
    assert cursor.decode("", [A, B]) == {A: None, B: None}


def test_a_stream_missing_from_the_cursor_is_reset_not_skipped() -> None:
    assert cursor.decode("call:CA1=3f9a0c1e-17", [A, B]) == {
        A: "3f9a0c1e-17",
        B: cursor.UNRESUMABLE,
    }


def test_hostile_positions_are_never_kept() -> None:
    hostile = "call:CA1=x\ndata: injected,campaign:4=" + "9" * 9000
    assert cursor.decode(hostile, [A, B]) == {A: cursor.UNRESUMABLE, B: cursor.UNRESUMABLE}
    assert cursor.decode("call:CA1=<script>-1", [A]) == {A: cursor.UNRESUMABLE}


def test_entries_keeps_only_well_formed_positions_of_any_stream() -> None:
    text = "call:CA1=3f9a0c1e-17,call:CA2=x\ny-1,campaign:4=0b7d2a55-9,junk"
    assert cursor.entries(text) == {CA1: "3f9a0c1e-17", StreamKey.campaign(4): "0b7d2a55-9"}
    assert cursor.entries("call:CA1=3f9a0c1e-17," + "x" * cursor.MAX_CURSOR) == {}
    assert cursor.entries(None) == {}


def test_a_compact_cursor_is_the_positions_alone_in_the_order_of_the_streams() -> None:
    text = cursor.encode_compact([A, B], {B: "0b7d2a55-9", A: "3f9a0c1e-17"})
    assert text == "~3f9a0c1e-17,0b7d2a55-9"
    assert cursor.decode(text, [A, B]) == {A: "3f9a0c1e-17", B: "0b7d2a55-9"}


def test_a_compact_position_not_yet_known_or_malformed_is_reset_not_skipped() -> None:
    assert cursor.encode_compact([A, B], {B: "0b7d2a55-9"}) == "~,0b7d2a55-9"
    assert cursor.decode("~,0b7d2a55-9", [A, B]) == {A: cursor.UNRESUMABLE, B: "0b7d2a55-9"}
    assert cursor.decode("~x\ndata: 1,0b7d2a55-9", [A, B])[A] == cursor.UNRESUMABLE


def test_a_compact_cursor_of_other_streams_resumes_none_of_them() -> None:
    assert cursor.decode("~3f9a0c1e-17", [A, B]) == {
        A: cursor.UNRESUMABLE,
        B: cursor.UNRESUMABLE,
    }
    too_long = "~" + ",".join(["3f9a0c1e-17"] * 1000)
    assert cursor.decode(too_long, [A] * 1000) == {A: cursor.UNRESUMABLE}


def test_a_moving_compact_cursor_says_the_same_as_encoding_it_afresh() -> None:
    moved = cursor.Compact([A, B], {B: "0b7d2a55-9"})
    assert moved.move(A, "3f9a0c1e-17") == b"~3f9a0c1e-17,0b7d2a55-9"
    assert moved.move(B, "0b7d2a55-10").decode() == cursor.encode_compact(
        [A, B], {A: "3f9a0c1e-17", B: "0b7d2a55-10"}
    )


def test_a_named_cursor_resumes_the_streams_of_another_organisation_it_carries() -> None:
    acme, globex = StreamKey.call("CA1", org="acme"), StreamKey.call("CA1", org="globex")
    text = cursor.encode({acme: "3f9a0c1e-17", CA1: "0b7d2a55-9"})
    assert text == "acme/call:CA1=3f9a0c1e-17,call:CA1=0b7d2a55-9"
    assert cursor.decode(text, [acme, CA1]) == {acme: "3f9a0c1e-17", CA1: "0b7d2a55-9"}
    assert cursor.decode(text, [globex]) == {globex: cursor.UNRESUMABLE}  # not a guess away
    assert cursor.entries(text) == {CA1: "0b7d2a55-9"}  # an organisation no one named
