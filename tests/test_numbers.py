"""One speaker's number across segments: joining, codes after a card, unchecked digits."""

from __future__ import annotations

from webapp.relay.numbers import Chain, ends_in_digits, found, joined, starts_with_digits, unchecked
from webapp.relay.pii import STANDARD, mask


def masked(chain: Chain, open_end: bool = True, force: bool = False) -> str:
    text = joined(chain)
    spans = found(chain, STANDARD)
    spans = sorted(spans + unchecked(chain, text, spans, open_end, force), key=lambda s: s.start)
    return mask(text, spans)


def test_a_boundary_s_sentence_marks_do_not_split_a_number() -> None:
    chain = Chain(("My card is 4111 1111.", "1111 1111"))
    assert joined(chain) == "My card is 4111 1111  1111 1111"
    assert masked(chain) == "My card is [card ••••1111]"  # one span over both


def test_a_number_goes_on_only_from_digits_to_digits() -> None:
    assert ends_in_digits("call (415)") and ends_in_digits("four one one.")
    assert not ends_in_digits("4111 please")
    assert starts_with_digits("  five five") and not starts_with_digits("um 5555")


def test_past_the_sixth_digit_an_unchecked_number_is_masked_by_segment() -> None:
    assert masked(Chain(("4111", "11", "1111"))) == "4111 11 [digits]"
    assert masked(Chain(("order 4572 913 please",))) == "order 4572 913 please"  # closed
    assert masked(Chain(("order 4572 913",)), open_end=False) == "order 4572 913"
    assert masked(Chain(("order 4572 913",))) == "order [digits]"  # open: may be a card
    assert masked(Chain(("order 4572 91",))) == "order 4572 91"  # six digits may show
    assert masked(Chain(("order 421",)), force=True) == "order [digits]"


def test_digits_carried_from_dropped_segments_still_count() -> None:
    assert masked(Chain(("11",), carried=6)) == "[digits]"


def test_a_code_or_expiry_after_a_card_is_masked_and_an_order_number_later_is_not() -> None:
    said = "4111 1111 1111 1111, code 737, expiry 09 27; " + "so " * 12 + "order 4242"
    assert masked(Chain((said,)), open_end=False).endswith("order 4242")
    assert "code [code], expiry [code]" in masked(Chain((said,)), open_end=False)
    assert masked(Chain(("it is 737",), code_words=4)) == "it is [code]"
