"""Where in a long text a detector's pattern can match, found at C speed, so that the
pattern is tried only there. Pure: no state but a small cache, no I/O.

A regular expression that cannot start with a literal is tried at every character
(about 10 to 30 ns each): over a 16 KB segment each of the detectors' scans (spoken
digits, digit runs, IBANs, phone-like stretches, a spoken "dot com") cost 0.15 to 0.5 ms,
where the text holds a few numbers and no address. Each function here gives exactly
what ``pattern.finditer(text)`` (or ``.search``) gives, for a pattern whose every match
starts where the function looks (each says where): it finds those places with string
searches, which run at memory speed, and tries the pattern there alone.

Only an ASCII text is sieved: there a case-insensitive letter is its lower case,
``\\d`` is ``0-9`` and ``\\w`` is ``[A-Za-z0-9_]``. A text with any other character
is searched whole, as before (the same matches; ``tests/test_sieve.py`` checks both on
random texts).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

# Every byte to "." but the ten digits, to "0": digit blocks are then found as a
# literal, which the engine searches at memory speed.
_DIGIT_CLASS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x2E for b in range(256))
_DIGIT_BLOCK = re.compile(rb"00*")
_NON_WORD = bytes(b if (chr(b).isalnum() and b < 0x80) or b == 0x5F else 0x20 for b in range(256))
_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


@functools.lru_cache(maxsize=8)
def _encoded(spoken: tuple[str, ...]) -> frozenset[bytes]:
    return frozenset(word.encode("ascii") for word in spoken)


@dataclass(frozen=True, slots=True)
class View:
    """An ASCII text as the sieve reads it: lower-cased, and its blocks of digits."""

    low: str
    blocks: tuple[tuple[int, int], ...]  # each maximal run of digits: start, end

    @property
    def digits(self) -> int:
        return sum(end - start for start, end in self.blocks)


@functools.lru_cache(maxsize=8)
def view(text: str) -> View | None:
    """``text`` as the sieve reads it; None when it is not ASCII (search it whole)."""
    if not text.isascii():
        return None
    marks = text.encode("ascii").translate(_DIGIT_CLASS)
    blocks = tuple(match.span() for match in _DIGIT_BLOCK.finditer(marks))
    return View(text.lower(), blocks)


def matches_at(
    pattern: re.Pattern[str], text: str, starts: Iterable[int]
) -> Iterator[re.Match[str]]:
    """``pattern.finditer(text)`` where no match can start but at one of ``starts``
    (ascending) and none is empty: each start is tried unless a match found covers it."""
    after = 0
    for start in starts:
        if start < after:
            continue
        match = pattern.match(text, start)
        if match is not None:
            yield match
            after = match.end()


def words(pattern: re.Pattern[str], text: str, spoken: tuple[str, ...]) -> Iterator[re.Match[str]]:
    """``pattern.finditer(text)`` for a case-insensitive pattern whose every match starts
    with one of the words ``spoken`` (lower case), after a word boundary."""
    seen = view(text)
    if seen is None:
        return pattern.finditer(text)
    return matches_at(pattern, text, _word_starts(seen.low, spoken))


def _word_starts(low: str, spoken: tuple[str, ...]) -> list[int]:
    # Which of the words are in the text as whole words (split where no word character
    # is: 70 us for 16 KB), then where each of those is (one search over the text each).
    present = _encoded(tuple(spoken)).intersection(low.encode("ascii").translate(_NON_WORD).split())
    starts: list[int] = []
    for word in sorted(w.decode("ascii") for w in present):
        at = low.find(word)
        while at != -1:
            if not at or low[at - 1] not in _WORD_CHARS:  # a word boundary before it
                starts.append(at)
            at = low.find(word, at + 1)
    return sorted(set(starts))


def digit_runs(pattern: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """``pattern.finditer(text)`` for a pattern whose every match starts with a digit
    that follows no word character: the first digit of a block of digits."""
    seen = view(text)
    if seen is None:
        return pattern.finditer(text)
    return matches_at(pattern, text, (start for start, _ in seen.blocks))


def before_digits(pattern: re.Pattern[str], text: str, back: int) -> Iterator[re.Match[str]]:
    """``pattern.finditer(text)`` for a pattern whose every match starts ``back``
    characters before a block of digits, with no digit in between (an IBAN's two letters)."""
    seen = view(text)
    if seen is None:
        return pattern.finditer(text)
    return matches_at(pattern, text, (start - back for start, _ in seen.blocks if start >= back))


def near_digits(pattern: re.Pattern[str], text: str, back: int) -> Iterator[re.Match[str]]:
    """``pattern.finditer(text)`` for a pattern whose every match starts at a digit, or
    at most ``back`` characters before a block of digits (a phone number's "+(")."""
    seen = view(text)
    if seen is None:
        return pattern.finditer(text)
    starts = (at for start, end in seen.blocks for at in range(max(0, start - back), end))
    return matches_at(pattern, text, starts)


def search_at_word(
    pattern: re.Pattern[str], text: str, word: str, back: int, pos: int = 0
) -> re.Match[str] | None:
    """``pattern.search(text, pos)`` for a case-insensitive pattern whose every match has
    ``word`` (lower case) ``back`` characters after its start."""
    seen = view(text)
    if seen is None:
        return pattern.search(text, pos)
    at = seen.low.find(word, pos + back)
    while at != -1:
        match = pattern.match(text, at - back)
        if match is not None:
            return match
        at = seen.low.find(word, at + 1)
    return None


def says(text: str, word: str, start: int, end: int) -> bool:
    """Whether ``word`` (lower case) is said between ``start`` and ``end`` with white space
    on both sides, case aside; True for a text that is not ASCII (search it)."""
    seen = view(text)
    if seen is None:
        return True
    at = seen.low.find(word, start, end)
    while at != -1:
        after = at + len(word)
        if at and text[at - 1].isspace() and after < len(text) and text[after].isspace():
            return True
        at = seen.low.find(word, at + 1, end)
    return False
