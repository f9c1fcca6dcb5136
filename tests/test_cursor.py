from hypothesis import given
from hypothesis import strategies as st

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


def test_a_named_cursor_resumes_the_streams_of_another_organisation_it_carries() -> None:
    acme, globex = StreamKey.call("CA1", org="acme"), StreamKey.call("CA1", org="globex")
    text = cursor.encode({acme: "3f9a0c1e-17", CA1: "0b7d2a55-9"})
    assert text == "acme/call:CA1=3f9a0c1e-17,call:CA1=0b7d2a55-9"
    assert cursor.decode(text, [acme, CA1]) == {acme: "3f9a0c1e-17", CA1: "0b7d2a55-9"}
    assert cursor.decode(text, [globex]) == {globex: cursor.UNRESUMABLE}  # not a guess away
    assert cursor.entries(text) == {CA1: "0b7d2a55-9"}  # an organisation no one named


# -- the hashed form (written since 2026-12-07) -------------------------------------------

EPOCHS = st.text("0123456789abcdefABCDEFxyzXYZ", min_size=1, max_size=32)
SEQS = st.integers(min_value=0, max_value=10**18 - 1)
STREAMS = st.lists(st.tuples(EPOCHS, st.none() | SEQS), min_size=1, max_size=64)


def world(streams: list[tuple[str, int | None]]) -> tuple[list[StreamKey], dict[StreamKey, str]]:
    """Keys in the request's order and each one's position (none for a stream at None)."""
    keys = [StreamKey.call(f"CA{n}") for n in range(len(streams))]
    at = {k: f"{e}-{seq}" for k, (e, seq) in zip(keys, streams, strict=True) if seq is not None}
    return keys, at


def epochs_of(at: dict[StreamKey, str], changed: dict[StreamKey, str] | None = None) -> object:
    return lambda key: (changed or {}).get(key) or at.get(key, "x-0").rpartition("-")[0]


@given(STREAMS)
def test_a_hashed_cursor_resumes_every_stream_at_its_position_under_the_same_epochs(
    streams: list[tuple[str, int | None]],
) -> None:
    keys, at = world(streams)
    text = cursor.encode_hashed(keys, at)
    assert text.startswith(cursor.HASHED) and "\n" not in text
    decoded = cursor.decode(text, keys, epochs_of(at))  # type: ignore[arg-type]
    assert decoded == {key: at.get(key, cursor.UNRESUMABLE) for key in keys}


@given(STREAMS, st.data())
def test_a_hashed_cursor_resets_every_stream_once_any_streams_epoch_changed(
    streams: list[tuple[str, int | None]], data: st.DataObject
) -> None:
    keys, at = world(streams)
    if not at:
        return
    text = cursor.encode_hashed(keys, at)
    moved = data.draw(st.lists(st.sampled_from(sorted(at, key=str)), min_size=1, unique=True))
    changed = {key: at[key].rpartition("-")[0] + data.draw(EPOCHS) for key in moved}
    decoded = cursor.decode(text, keys, epochs_of(at, changed))  # type: ignore[arg-type]
    assert set(decoded.values()) == {cursor.UNRESUMABLE}  # reset, never read under another


@given(STREAMS, st.lists(st.tuples(st.integers(min_value=0), EPOCHS, SEQS), max_size=30))
def test_a_moving_hashed_cursor_says_the_same_as_encoding_it_afresh(
    streams: list[tuple[str, int | None]], moves: list[tuple[int, str, int]]
) -> None:
    keys, at = world(streams)
    moving = cursor.Hashed(keys, at)
    for n, epoch, seq in moves:
        key = keys[n % len(keys)]
        at[key] = f"{epoch}-{seq}"
        assert moving.move(key, at[key]).decode() == cursor.encode_hashed(keys, at)


@given(st.text(max_size=300), st.lists(EPOCHS, min_size=1, max_size=8))
def test_a_hostile_hashed_cursor_resumes_nothing_it_was_not_given(
    tail: str, epochs: list[str]
) -> None:
    keys = [StreamKey.call(f"CA{n}") for n in range(len(epochs))]
    now = dict(zip(keys, epochs, strict=True))
    for text in (cursor.HASHED + tail, cursor.HASHED + "AAAAAAAA," + tail):
        decoded = cursor.decode(text, keys, now.get)
        for key, position in decoded.items():  # reset, or a seq under the epoch it has now
            assert position == cursor.UNRESUMABLE or position.startswith(now[key] + "-")
            assert position == cursor.UNRESUMABLE or position[len(now[key]) + 1 :].isdigit()


def test_a_hashed_cursor_is_short_and_needs_the_streams_epochs() -> None:
    keys = [StreamKey.call(f"CA{n}") for n in range(48)]
    at = {key: f"{n:08x}-{1000 + n}" for n, key in enumerate(keys)}
    text = cursor.encode_hashed(keys, at)
    assert len(text) <= 10 + 3 * 48 < len(cursor.encode_compact(keys, at)) // 3
    assert set(cursor.decode(text, keys).values()) == {cursor.UNRESUMABLE}  # no epochs: none
    assert cursor.decode(text, keys[:47], epochs_of(at))[keys[0]] == cursor.UNRESUMABLE  # type: ignore[arg-type]
