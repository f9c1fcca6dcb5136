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
from typing import Literal

import phonenumbers

Kind = Literal["card", "ssn", "iban", "email", "phone", "code", "digits"]

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
_SPOKEN = re.compile(r"\b(?:(double|triple)\s+)?(" + "|".join(_DIGIT_WORDS) + r")\b", re.IGNORECASE)
# A run of digit groups: groups joined by spaces, dashes or commas (not by a dot
# or colon, so "19.99" and "10:30" are two short runs, not one long one).
_RUN = re.compile(r"(?<![\w])\d+(?:(?:[ \t]*[-\u2013,][ \t]*|[ \t]+|\.[ \t]+)\d+)*(?![\w])")
_GROUP = re.compile(r"\d+")
_SSN_CONTEXT = re.compile(r"(?:social\s+security|\bssn\b|\bsocial\b)[^\d]{0,40}$", re.IGNORECASE)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b")
# Each pattern starts only where its first part cannot extend further left, and is
# bounded, so a long segment costs linear time (no backtracking blow-up).
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}"
)
_TLDS = r"com|net|org|edu|gov|io|co|uk|de|fr|info|biz|me|us|ca"
_SPOKEN_EMAIL = re.compile(
    rf"\b[A-Za-z0-9_]{{1,64}}(?:\s{{1,3}}(?:dot|underscore)\s{{1,3}}[A-Za-z0-9_]{{1,64}}){{0,8}}"
    rf"\s{{1,3}}at\s{{1,3}}[A-Za-z0-9-]{{1,63}}(?:\s{{1,3}}dot\s{{1,3}}[A-Za-z0-9-]{{1,63}}){{0,8}}"
    rf"\s{{1,3}}dot\s{{1,3}}(?:{_TLDS})\b",
    re.IGNORECASE,
)
_PHONE_LIKE = re.compile(r"\+?\(?\d[\d \t().\-\u2013]{5,24}\d")
_SPACED = re.compile(r"\S+")
_TAIL = re.compile(r"[\s.,;:!?)\]\"'-]*$")
MAX_DIGITS = 500
MAX_RUN_GROUPS = 40  # the Luhn windows of longer runs are looked for in slices of this size


@dataclass(frozen=True, slots=True)
class Policy:
    """What to mask: ``strict`` also masks every run of ``min_digits`` or more digits."""

    strict: bool = False
    min_digits: int = 4
    region: str = "US"


@dataclass(frozen=True, slots=True)
class Span:
    """Characters ``start:end`` of the original text are personal data of ``kind``."""

    start: int
    end: int
    kind: Kind
    marker: str


@dataclass(frozen=True, slots=True)
class Normalised:
    """``text`` with spoken digits written as digits; ``starts``/``ends`` map each of its
    characters back to the original text (a digit word maps to the whole word). Empty
    maps: nothing was spoken, the texts are the same."""

    text: str
    starts: tuple[int, ...] = ()
    ends: tuple[int, ...] = ()

    def original(self, start: int, end: int) -> tuple[int, int]:
        if not self.starts:
            return start, end
        return self.starts[start], self.ends[end - 1]


def normalise(text: str) -> Normalised:
    """Spoken digits ("four", "oh", "double five") become digits, everything else stays."""
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    at = 0
    for match in _SPOKEN.finditer(text):
        out.append(text[at : match.start()])
        starts.extend(range(at, match.start()))
        ends.extend(range(at + 1, match.start() + 1))
        digit = _DIGIT_WORDS[match.group(2).lower()]
        times = {"double": 2, "triple": 3}.get((match.group(1) or "").lower(), 1)
        out.append(digit * times)
        starts.extend([match.start()] * times)
        ends.extend([match.end()] * times)
        at = match.end()
    if not at:
        return Normalised(text)
    out.append(text[at:])
    starts.extend(range(at, len(text)))
    ends.extend(range(at + 1, len(text) + 1))
    return Normalised("".join(out), tuple(starts), tuple(ends))


def luhn(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if i % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    """The ISO 13616 mod-97 check of an IBAN without spaces."""
    if not 15 <= len(candidate) <= 34:
        return False
    moved = candidate[4:] + candidate[:4]
    number = "".join(str(int(char, 36)) for char in moved)
    return int(number) % 97 == 1


def _ssn_parts_valid(area: str, group: str, serial: str) -> bool:
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def find(text: str, policy: Policy = Policy()) -> list[Span]:
    """Every span of personal data in ``text``, in order, none overlapping.

    A text with more than ``MAX_DIGITS`` digits (no utterance has) gets every
    number masked as ``[digits]`` instead of the costlier checks, so the time
    spent stays linear in its length.
    """
    norm = normalise(text)
    found: list[tuple[int, int, Kind, str]] = []  # in normalised coordinates
    runs = [(m.start(), m.end()) for m in _RUN.finditer(norm.text)]
    detailed = sum(map(norm.text.count, "0123456789")) <= MAX_DIGITS
    if detailed:
        for start, end in runs:
            found += _in_run(norm.text, start, end)
    found += _fresh(found, _ibans(norm.text))
    found += _fresh(found, _emails(norm.text))
    if detailed:
        found += _fresh(found, _phones(norm.text, policy.region, found))
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


def redact(text: str, policy: Policy = Policy()) -> str:
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
    body = _TAIL.sub("", norm.text)
    last = None
    for match in _RUN.finditer(body):
        last = match
    if last is None or last.end() != len(body):
        return None
    begin = last.start() - 1 if last.start() and body[last.start() - 1] in "+(" else last.start()
    digits = sum(char.isdigit() for char in last.group())
    if digits < min_digits and body[begin] != "+":
        return None
    start, end = norm.original(begin, last.end())
    if any(span.start < end and start < span.end for span in spans):
        return None
    return start, end


def digit_runs(text: str) -> list[tuple[int, int, tuple[tuple[int, int], ...]]]:
    """Each run of digit groups in ``text`` (spoken digits too): where it starts and ends
    in ``text``, and where each of its digits is (a spoken digit: its word)."""
    norm = normalise(text)
    runs = []
    for match in _RUN.finditer(norm.text):
        at = range(match.start(), match.end())
        digits = tuple(norm.original(i, i + 1) for i in at if norm.text[i].isdigit())
        runs.append((*norm.original(match.start(), match.end()), digits))
    return runs


def lead_run(text: str) -> int | None:
    """Where a run of digits at the very start of ``text`` ends, or None."""
    norm = normalise(text)
    match = _RUN.match(norm.text, len(norm.text) - len(norm.text.lstrip()))
    return norm.original(match.start(), match.end())[1] if match else None


def _fresh(
    taken: list[tuple[int, int, Kind, str]], new: Iterable[tuple[int, int, Kind, str]]
) -> list[tuple[int, int, Kind, str]]:
    """The items of ``new`` that overlap nothing taken (nor an earlier kept one)."""
    busy = sorted((t[0], t[1]) for t in taken)
    kept: list[tuple[int, int, Kind, str]] = []
    for item in new:
        at = bisect.bisect_right(busy, (item[0], item[1]))
        near = busy[max(0, at - 1) : at + 1]
        if not any(item[0] < end and start < item[1] for start, end in near):
            kept.append(item)
            bisect.insort(busy, (item[0], item[1]))
    return kept


def _in_run(text: str, start: int, end: int) -> list[tuple[int, int, Kind, str]]:
    """Cards and SSNs within one run of digit groups (windows of whole groups)."""
    groups = [(m.start(), m.end()) for m in _GROUP.finditer(text, start, end)]
    found: list[tuple[int, int, Kind, str]] = []
    for base in range(0, len(groups), MAX_RUN_GROUPS):
        found += _windows(text, groups[base : base + MAX_RUN_GROUPS + 19])
    # The window with the most digits wins ("42 4111 ... 1111": the card, not "42 4111 ...").
    found = _fresh([], sorted(found, key=lambda f: (-_digits(text, f[0], f[1]), f[0])))
    digits = "".join(text[a:b] for a, b in groups)
    context = _SSN_CONTEXT.search(text, max(0, start - 64), start) is not None
    if not found and len(digits) == 9 and context and _ssn_parts_valid(*_split_ssn(digits)):
        found.append((start, end, "ssn", "[ssn]"))
    return found


def _windows(text: str, groups: list[tuple[int, int]]) -> list[tuple[int, int, Kind, str]]:
    found: list[tuple[int, int, Kind, str]] = []
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


def _ibans(text: str) -> Iterable[tuple[int, int, Kind, str]]:
    for match in _IBAN.finditer(text):
        # The pattern may run into a following word: try shorter ends, longest first.
        candidate = match.group()
        for cut in range(len(candidate), 14, -1):
            if cut < len(candidate) and candidate[cut] != " ":
                continue
            if iban_valid(candidate[:cut].replace(" ", "")):
                yield match.start(), match.start() + cut, "iban", "[iban]"
                break


def _emails(text: str) -> Iterable[tuple[int, int, Kind, str]]:
    for pattern in (_EMAIL, _SPOKEN_EMAIL):
        for match in pattern.finditer(text):
            yield match.start(), match.end(), "email", "[email]"


def _phones(
    text: str, region: str, taken: list[tuple[int, int, Kind, str]]
) -> Iterable[tuple[int, int, Kind, str]]:
    # libphonenumber is the costly part (0.1 to 0.3 ms a call): ask it only about the
    # stretches that could be one phone number, not about the whole text.
    for candidate in _PHONE_LIKE.finditer(text):
        if _covered(candidate, taken):
            continue
        for a, b in _phone_windows(text, candidate, region):
            found = phonenumbers.PhoneNumberMatcher(
                text[a:b], region, leniency=phonenumbers.Leniency.VALID
            )
            for match in found:
                yield a + match.start, a + match.end, "phone", "[phone]"


def _phone_windows(text: str, candidate: re.Match[str], region: str) -> Iterable[tuple[int, int]]:
    """Stretches of ``candidate`` that may be one phone number: all of it when it has no
    more digits than one can (with a ``+``: 15), else runs of its space-separated groups
    as long as one can be. A 16-digit time stamp costs no call at all."""
    low, high = _phone_lengths(region)
    digits = sum(char.isdigit() for char in candidate.group())
    if digits < low:
        return
    if digits <= (15 if "+" in candidate.group() else high):
        yield candidate.start(), candidate.end()
        return
    groups = [(m.start(), m.end()) for m in _SPACED.finditer(text, *candidate.span())]
    counts = [sum(char.isdigit() for char in text[a:b]) for a, b in groups]
    for i in range(len(groups)):
        total, j = 0, i
        while j < len(groups) and total + counts[j] <= high:
            total += counts[j]
            j += 1
        if total >= low:
            yield groups[i][0], groups[j - 1][1]


@functools.cache
def _phone_lengths(region: str) -> tuple[int, int]:
    """The fewest and most digits a phone number of ``region`` is dialled with (a
    trunk prefix included), never fewer than seven."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    general = metadata.general_desc if metadata is not None else None
    lengths = general.possible_length if general is not None else ()
    return max(7, min(lengths, default=7)), max(lengths, default=15) + 1


def _covered(match: re.Match[str], taken: list[tuple[int, int, Kind, str]]) -> bool:
    return any(t[0] <= match.start() and match.end() <= t[1] for t in taken)


def _digit_runs(
    text: str, runs: list[tuple[int, int]], min_digits: int
) -> Iterable[tuple[int, int, Kind, str]]:
    for start, end in runs:
        if sum(char.isdigit() for char in text[start:end]) >= min_digits:
            yield start, end, "digits", "[digits]"
