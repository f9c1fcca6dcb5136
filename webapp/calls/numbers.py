"""One speaker's number across segments: where it runs, the card code after it, what of it an
unfinished reading may show. Pure: no state, no I/O.

A *chain* is a speaker's latest segments that one number runs through: each but the
last ends in digits and the next starts with digits, whatever the other speaker said
between them and however long the pause. Its text is the segments joined with spaces
(:func:`joined`), searched as one. Besides what ``pii`` finds, :func:`found` adds

- ``code``: a card's security code (or expiry): every number of three or four digits
  within ``CODE_WORDS`` words after a card (``[code]``);
and :func:`unchecked` gives

- ``digits``: the *unchecked* parts of a number that ran across a segment boundary, or
  is still open at the chain's end (``open_end``), and is not found as anything: every
  part of it after its sixth digit (PCI DSS lets the first six digits of a card show;
  nothing later may, since nobody can tell yet whether it is one).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from webapp.calls.pii import Policy, Span, digit_runs
from webapp.calls.pii import find as find_spans

CODE_WORDS = 12  # a card's code or expiry is said within this many words after it
SHOWN_DIGITS = 6  # of an unchecked number, at most its first six digits show
_BOUNDARY = re.compile(r"[\s.,;:!?\"']*$")  # sentence marks a segment's end may add
_CLOSING = re.compile(r"[\s.,;:!?)\]\"'-]*")  # what may follow a number that goes on
_WORD = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class Chain:
    """Segment texts a number may run through, oldest first; ``carried``: digits of the
    number said in segments no longer in it (it is bounded); ``code_words``: how many
    leading words may still hold the code of a card said before it."""

    texts: tuple[str, ...]
    carried: int = 0
    code_words: int = 0

    @property
    def starts(self) -> list[int]:
        starts, at = [], 0
        for text in self.texts:
            starts.append(at)
            at += len(text) + 1
        return starts


def joined(chain: Chain) -> str:
    """The chain's texts joined with spaces, each boundary's sentence marks blanked (same
    length), so "4111 1111." and "1111 1111" read as one number."""
    parts = [_blank_end(text) for text in chain.texts[:-1]] + list(chain.texts[-1:])
    return " ".join(parts)


def _blank_end(text: str) -> str:
    mark = _BOUNDARY.search(text)
    return text if mark is None else text[: mark.start()] + " " * (len(text) - mark.start())


def ends_in_digits(text: str) -> bool:
    runs = digit_runs(text)
    return bool(runs) and _CLOSING.fullmatch(text, runs[-1][1]) is not None


def starts_with_digits(text: str) -> bool:
    runs = digit_runs(text)
    return bool(runs) and not text[: runs[0][0]].strip()


def found(chain: Chain, policy: Policy) -> list[Span]:
    """What ``pii`` finds in the chain's joined text, and the codes said after a card."""
    text = joined(chain)
    spans = find_spans(text, policy)
    return _merge(spans, _codes(text, spans, chain.code_words))


def _codes(text: str, spans: list[Span], lead_words: int) -> list[Span]:
    """Numbers of three or four digits within ``CODE_WORDS`` words after a card (or the
    first ``lead_words`` words: a card said in the speaker's earlier segments)."""
    windows = [(0, _word_end(text, 0, lead_words))] if lead_words else []
    windows += [(s.end, _word_end(text, s.end, CODE_WORDS)) for s in spans if s.kind == "card"]
    found = []
    for start, end, digits in digit_runs(text):
        inside = any(a <= start and end <= b for a, b in windows)
        if inside and len(digits) in (3, 4):
            found.append(Span(start, end, "code", "[code]"))
    return found


def _word_end(text: str, start: int, words: int) -> int:
    end = start
    for n, match in enumerate(_WORD.finditer(text, start)):
        if n == words:
            break
        end = match.end()
    return end


def unchecked(
    chain: Chain, text: str, spans: list[Span], open_end: bool, force: bool
) -> list[Span]:
    """The parts of numbers that crossed a segment boundary, or end the chain still open
    (``open_end``: nothing closed it yet), past their sixth digit and not among ``spans``:
    masked as ``[digits]``. With ``force``, all of the open number is (it was held too
    long to be a short one)."""
    starts = chain.starts
    ends = [at + len(part) for at, part in zip(starts, chain.texts, strict=True)]
    found: list[Span] = []
    for start, end, digits in digit_runs(text):
        crosses = bisect.bisect_right(starts, start) != bisect.bisect_right(starts, end - 1)
        is_open = open_end and _CLOSING.fullmatch(text, end) is not None
        if not (crosses or is_open):
            continue
        shown = 0 if force and is_open else SHOWN_DIGITS
        count = chain.carried if not text[:start].strip() else 0  # it goes on from there
        for a, b in zip(starts, ends, strict=True):
            inside = [d for d in digits if a <= d[0] < b]
            count += len(inside)
            if count > shown and inside:
                found += _uncovered(inside, spans)
    return found


def _uncovered(digits: list[tuple[int, int]], spans: list[Span]) -> list[Span]:
    """Stretches of ``digits`` (one segment's part of a number) no span covers, as
    ``[digits]`` spans from their first digit to their last."""
    out: list[Span] = []
    for start, end in digits:
        if any(s.start <= start and end <= s.end for s in spans):
            continue
        if out and not any(out[-1].end <= s.start < start for s in spans):
            out[-1] = Span(out[-1].start, end, "digits", "[digits]")
        else:
            out.append(Span(start, end, "digits", "[digits]"))
    return out


def _merge(spans: list[Span], more: list[Span]) -> list[Span]:
    """``spans`` and the items of ``more`` that overlap none of them, in order."""
    kept = list(spans)
    for span in more:
        if not any(span.start < s.end and s.start < span.end for s in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)
