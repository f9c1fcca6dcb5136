"""Find personal data in transcript text and mask it with typed markers. Pure: no state, no I/O.

What is found (in this order; a later kind never overlaps an earlier one):

- ``card``: 13-19 digits that pass the Luhn check, written together, in groups
  (spaces, dashes, commas) or spoken digit by digit as ASR writes it ("four one
  one one ..."); masked as ``[card ••••1111]`` (the last four, as a receipt shows);
- ``ssn``: a US social security number: 3-2-4 groups with valid area, group and
  serial numbers, or nine digits right after "social security" / "SSN";
- ``iban``: an IBAN whose mod-97 checksum holds;
- ``email``: an address (``ada@example.com``) or one spoken ("ada at example dot com");
- ``phone``: a number ``phonenumbers`` (libphonenumber) finds valid for the region;
- ``digits``: in the strict mode only, every other run of ``min_digits`` or more digits.

Ordinary numbers ("order 42", "3 items", "10:30", "$19.99") are left alone unless
the strict mode is on. Detection runs on a *normalised* copy of the text (spoken
digits turned into digits) and every span is mapped back to the original text.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from webapp.calls import sieve
from webapp.calls.addresses import Found, Kind, emails, ibans, phones

_DIGIT_WORDS = {
    "zero": "0",
    "oh": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
# The look-ahead names every letter a match can start with: the engine then skips the
# other positions at C speed (four times faster on a long segment), same matches.
_SPOKEN = re.compile(
    r"\b(?=[dtzofsen])(?:(double|triple)\s+)?(" + "|".join(_DIGIT_WORDS) + r")\b", re.IGNORECASE
)
_SPOKEN_STARTS = ("double", "triple", *_DIGIT_WORDS)  # a spoken digit's match starts so
# A run of digit groups: groups joined by spaces, dashes or commas (not by a dot
# or colon, so "19.99" and "10:30" are two short runs, not one long one).
_RUN = re.compile(r"(?<![\w])\d+(?:(?:[ \t]*[-\u2013,][ \t]*|[ \t]+|\.[ \t]+)\d+)*(?![\w])")
_GROUP = re.compile(r"\d+")
_SSN_CONTEXT = re.compile(r"(?:social\s+security|\bssn\b|\bsocial\b)[^\d]{0,40}$", re.IGNORECASE)
_TAIL_MARKS = frozenset(".,;:!?)]\"'-")  # with white space, what may end a sentence
MAX_DIGITS = 500
MAX_RUN_GROUPS = 40  # the Luhn windows of longer runs are looked for in slices of this size


@dataclass(frozen=True, slots=True)
class Policy:
    """What to mask: ``strict`` also masks every run of ``min_digits`` or more digits.

    Built from ``REDACTION_*`` by ``webapp.configs``; no defaults here (``STANDARD``
    is what a caller that names no policy gets).
    """

    strict: bool
    min_digits: int
    region: str  # whose numbers are recognised without a +country code


# No strict mode, US numbers: REDACTION_STRICT_DIGITS and REDACTION_PHONE_REGION default to it.
STANDARD = Policy(strict=False, min_digits=4, region="US")


@dataclass(frozen=True, slots=True)
class Span:
    """Characters ``start:end`` of the original text are personal data of ``kind``."""

    start: int
    end: int
    kind: Kind
    marker: str


@dataclass(frozen=True, slots=True)
class Normalised:
    """``text`` with spoken digits written as digits, and where each of its characters was
    in the original text (a digit word: the whole word). ``words`` holds one entry per
    spoken digit word, ``(start, end)`` in ``text`` and ``(start, end)`` in the original,
    in order; ``at`` their starts in ``text``. None: nothing was spoken, the texts are the
    same. A position is mapped by a binary search over the words, so the map costs memory
    and time by the words spoken, not by the length of the text."""

    text: str
    at: tuple[int, ...] = ()
    words: tuple[tuple[int, int, int, int], ...] = ()

    def original(self, start: int, end: int) -> tuple[int, int]:
        if not self.words:
            return start, end
        return self._char(start)[0], self._char(end - 1)[1]

    def _char(self, i: int) -> tuple[int, int]:
        """Where character ``i`` of ``text`` was in the original: its start and end."""
        k = bisect.bisect_right(self.at, i) - 1
        if k < 0:
            return i, i + 1
        _, end, o_start, o_end = self.words[k]
        if i < end:
            return o_start, o_end
        at = o_end + (i - end)  # a character after the word, as in the original
        return at, at + 1


@functools.lru_cache(maxsize=8)
def normalise(text: str) -> Normalised:
    """Spoken digits ("four", "oh", "double five") become digits, everything else stays.

    Cached: the redactor asks about the same segment (and the same joined chain) several
    times while it settles a final (finding, its open end, its digit runs); a long
    segment's normalising is the costly part of those questions."""
    out: list[str] = []
    words: list[tuple[int, int, int, int]] = []
    at = length = 0  # in the original, in the normalised text
    for match in sieve.words(_SPOKEN, text, _SPOKEN_STARTS):
        digit = _DIGIT_WORDS.get(match.group(2).lower())
        if digit is None:  # matched only by case-folding ("five" with a dotless i): a word
            continue
        out.append(text[at : match.start()])
        length += match.start() - at
        times = {"double": 2, "triple": 3}.get((match.group(1) or "").lower(), 1)
        out.append(digit * times)
        words.append((length, length + times, match.start(), match.end()))
        length += times
        at = match.end()
    if not at:
        return Normalised(text)
    out.append(text[at:])
    return Normalised("".join(out), tuple(w[0] for w in words), tuple(words))


def luhn(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if i % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _ssn_parts_valid(area: str, group: str, serial: str) -> bool:
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def find(text: str, policy: Policy = STANDARD) -> list[Span]:
    """Every span of personal data in ``text``, in order, none overlapping.

    A text with more than ``MAX_DIGITS`` digits (no utterance has) gets every
    number masked as ``[digits]`` instead of the costlier checks, so the time
    spent stays linear in its length.
    """
    norm = normalise(text)
    found: list[Found] = []  # in normalised coordinates
    runs = list(_runs(norm.text))
    seen = sieve.view(norm.text)  # its digits were counted when its runs were found
    digits = seen.digits if seen is not None else sum(map(norm.text.count, "0123456789"))
    detailed = digits <= MAX_DIGITS
    if detailed:
        for start, end in runs:
            found += _in_run(norm.text, start, end)
    found += _fresh(found, ibans(norm.text))
    found += _fresh(found, emails(norm.text))
    if detailed:
        found += _fresh(found, phones(norm.text, policy.region, found))
    if policy.strict or not detailed:
        min_digits = policy.min_digits if detailed else 1
        found += _fresh(found, _digit_runs(norm.text, runs, min_digits))
    spans = [Span(*norm.original(s, e), kind, marker) for s, e, kind, marker in found]
    return sorted(spans, key=lambda span: span.start)


def mask(text: str, spans: Iterable[Span]) -> str:
    """``text`` with each span replaced by its marker (spans in order, not overlapping)."""
    out, at = [], 0
    for span in spans:
        out += [text[at : span.start], span.marker]
        at = span.end
    out.append(text[at:])
    return "".join(out)


def redact(text: str, policy: Policy = STANDARD) -> str:
    """``text`` with every piece of personal data replaced by its typed marker."""
    return mask(text, find(text, policy))


def open_tail(text: str, spans: list[Span], min_digits: int = 2) -> tuple[int, int] | None:
    """Where a number that may go on in the speaker's next segment is, or None.

    That is a run of at least ``min_digits`` digits at the very end of ``text``
    (trailing punctuation aside) not already masked: "my card is 4111 1111"; or
    any run after a ``+``, which starts a phone number ("call +44"). A ``+`` or
    ``(`` right before the run is part of it.
    """
    norm = normalise(text)
    body = norm.text[: _tail_start(norm.text)]
    # The runs of the whole text are those of its body: the marks after it hold no digit.
    runs = _runs(norm.text)
    if not runs or runs[-1][1] != len(body):
        return None
    first, last = runs[-1]
    begin = first - 1 if first and body[first - 1] in "+(" else first
    digits = sum(char.isdigit() for char in body[first:last])
    if digits < min_digits and body[begin] != "+":
        return None
    start, end = norm.original(begin, last)
    if any(span.start < end and start < span.end for span in spans):
        return None
    return start, end


def _tail_start(text: str) -> int:
    """Where the white space and sentence marks that end ``text`` start: scanned from the
    end (a regular expression anchored at the end is tried at every character)."""
    at = len(text)
    while at and (text[at - 1].isspace() or text[at - 1] in _TAIL_MARKS):
        at -= 1
    return at


@functools.lru_cache(maxsize=8)
def digit_runs(text: str) -> tuple[tuple[int, int, tuple[tuple[int, int], ...]], ...]:
    """Each run of digit groups in ``text`` (spoken digits too): where it starts and ends
    in ``text``, and where each of its digits is (a spoken digit: its word). Cached, as
    :func:`normalise` is: settling one final asks this of the same text three times."""
    norm = normalise(text)
    runs = []
    for first, last in _runs(norm.text):
        at = range(first, last)
        digits = tuple(norm.original(i, i + 1) for i in at if norm.text[i].isdigit())
        runs.append((*norm.original(first, last), digits))
    return tuple(runs)


@functools.lru_cache(maxsize=8)
def _runs(text: str) -> tuple[tuple[int, int], ...]:
    """Where each run of digit groups in ``text`` (already normalised) starts and ends."""
    return tuple((match.start(), match.end()) for match in sieve.digit_runs(_RUN, text))


def lead_run(text: str) -> int | None:
    """Where a run of digits at the very start of ``text`` ends, or None."""
    norm = normalise(text)
    match = _RUN.match(norm.text, len(norm.text) - len(norm.text.lstrip()))
    return norm.original(match.start(), match.end())[1] if match else None


def _fresh(taken: list[Found], new: Iterable[Found]) -> list[Found]:
    """The items of ``new`` that overlap nothing taken (nor an earlier kept one)."""
    busy = sorted((t[0], t[1]) for t in taken)
    kept: list[Found] = []
    for item in new:
        at = bisect.bisect_right(busy, (item[0], item[1]))
        near = busy[max(0, at - 1) : at + 1]
        if not any(item[0] < end and start < item[1] for start, end in near):
            kept.append(item)
            bisect.insort(busy, (item[0], item[1]))
    return kept


def _in_run(text: str, start: int, end: int) -> list[Found]:
    """Cards and SSNs within one run of digit groups (windows of whole groups)."""
    if end - start < 9:  # fewer than nine digits: no card (13 or more), no SSN (nine)
        return []
    groups = [(m.start(), m.end()) for m in _GROUP.finditer(text, start, end)]
    found: list[Found] = []
    for base in range(0, len(groups), MAX_RUN_GROUPS):
        found += _windows(text, groups[base : base + MAX_RUN_GROUPS + 19])
    # The window with the most digits wins ("42 4111 ... 1111": the card, not "42 4111 ...").
    found = _fresh([], sorted(found, key=lambda f: (-_digits(text, f[0], f[1]), f[0])))
    digits = "".join(text[a:b] for a, b in groups)
    nine = not found and len(digits) == 9 and _ssn_parts_valid(*_split_ssn(digits))
    if nine and _ssn_context(text, start):
        found.append((start, end, "ssn", "[ssn]"))
    return found


def _ssn_context(text: str, start: int) -> bool:
    """Whether "social security" or the like comes just before ``start`` (asked only of
    a run of nine digits: the search costs more than the rest of a run's checks)."""
    return _SSN_CONTEXT.search(text, max(0, start - 64), start) is not None


def _windows(text: str, groups: list[tuple[int, int]]) -> list[Found]:
    found: list[Found] = []
    values = [text[a:b] for a, b in groups]
    for i in range(len(groups)):
        digits = ""
        for j in range(i, len(groups)):
            digits += values[j]
            if len(digits) > 19:
                break
            if len(digits) >= 13 and digits[0] != "0" and luhn(digits):
                found.append((groups[i][0], groups[j][1], "card", f"[card ••••{digits[-4:]}]"))
        if i + 2 < len(groups):
            lengths = tuple(len(v) for v in values[i : i + 3])
            if lengths == (3, 2, 4) and _ssn_parts_valid(*values[i : i + 3]):
                found.append((groups[i][0], groups[i + 2][1], "ssn", "[ssn]"))
    return found


def _digits(text: str, start: int, end: int) -> int:
    return sum(char.isdigit() for char in text[start:end])


def _split_ssn(digits: str) -> tuple[str, str, str]:
    return digits[:3], digits[3:5], digits[5:]


def _digit_runs(text: str, runs: list[tuple[int, int]], min_digits: int) -> Iterable[Found]:
    for start, end in runs:
        if sum(char.isdigit() for char in text[start:end]) >= min_digits:
            yield start, end, "digits", "[digits]"
