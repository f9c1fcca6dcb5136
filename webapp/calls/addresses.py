"""Personal data written as an address rather than a number: e-mail addresses (written or
spoken), phone numbers (``phonenumbers``, libphonenumber) and IBANs.

Part of :func:`webapp.calls.pii.find`, which runs these over the normalised text after
the cards and SSNs. Pure: no state, no I/O.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Literal

import phonenumbers

from webapp.calls import sieve

Kind = Literal["card", "ssn", "iban", "email", "phone", "code", "digits"]
Found = tuple[int, int, Kind, str]  # a span of the normalised text, its kind and marker

_IBAN = re.compile(r"(?=[A-Z])\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b")
# Each pattern starts only where its first part cannot extend further left, and is
# bounded, so a long segment costs linear time (no backtracking blow-up). An address is
# only looked for where an "@" is (:func:`emails`), a spoken one only in a text that
# says "dot com" or the like (``_SPOKEN_TLD``, which every match ends with).
_LOCAL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-")
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
_SPOKEN_TLD = re.compile(rf"\sdot\s{{1,3}}(?:{_TLDS})\b", re.IGNORECASE)
# The most characters a spoken address can span before the "\sdot" of its last part.
_SPOKEN_LONGEST = 64 + 8 * (3 + 10 + 3 + 64) + (3 + 2 + 3) + 63 + 8 * (3 + 3 + 3 + 63) + 2 + 16
_PHONE_LIKE = re.compile(r"(?=[+(\d])\+?\(?\d[\d \t().\-\u2013]{5,24}\d")
_SPACED = re.compile(r"\S+")


def iban_valid(candidate: str) -> bool:
    """The ISO 13616 mod-97 check of an IBAN without spaces."""
    if not 15 <= len(candidate) <= 34:
        return False
    moved = candidate[4:] + candidate[:4]
    number = "".join(str(int(char, 36)) for char in moved)
    return int(number) % 97 == 1


def ibans(text: str) -> Iterable[Found]:
    for match in sieve.before_digits(_IBAN, text, 2):  # its country's two letters
        # The pattern may run into a following word: try shorter ends, longest first.
        candidate = match.group()
        for cut in range(len(candidate), 14, -1):
            if cut < len(candidate) and candidate[cut] != " ":
                continue
            if iban_valid(candidate[:cut].replace(" ", "")):
                yield match.start(), match.start() + cut, "iban", "[iban]"
                break


def emails(text: str) -> Iterable[Found]:
    """What ``_EMAIL.finditer`` and ``_SPOKEN_EMAIL.finditer`` find, the written ones
    matched only at the start of the local part before each "@" (where alone one can
    start: the run of local characters it ends), not tried at every character."""
    after = 0  # the end of the last address found: the next one starts no earlier
    at = text.find("@")
    while at != -1:
        start = at
        while start > 0 and at - start <= 64 and text[start - 1] in _LOCAL:
            start -= 1
        match = _EMAIL.match(text, start) if start >= after and start < at else None
        if match is not None:
            yield match.start(), match.end(), "email", "[email]"
            after = match.end()
        at = text.find("@", max(at + 1, after))
    yield from _spoken_emails(text)


def _spoken_emails(text: str) -> Iterable[Found]:
    """What ``_SPOKEN_EMAIL.finditer`` finds, searched for only near each "dot com" (every
    match ends with one): from ``_SPOKEN_LONGEST`` characters before it to its end first
    (no match there: none ends with it), then, where there is one, without an end (the
    match found first may run on to a later one), so no search runs over the whole text."""
    after = at = 0
    while (tail := sieve.search_at_word(_SPOKEN_TLD, text, "dot", 1, at)) is not None:
        at = tail.end()
        begin = max(after, tail.start() - _SPOKEN_LONGEST)
        if not sieve.says(text, "at", begin, tail.start()):  # an address says "at"
            continue
        if _SPOKEN_EMAIL.search(text, begin, tail.end()) is None:
            continue
        match = _SPOKEN_EMAIL.search(text, begin)  # found: one is in the stretch
        if match is None:
            return
        yield match.start(), match.end(), "email", "[email]"
        after = at = match.end()


def phones(text: str, region: str, taken: list[Found]) -> Iterable[Found]:
    # libphonenumber is the costly part (0.1 to 0.3 ms a call): ask it only about the
    # stretches that could be one phone number, not about the whole text.
    for candidate in sieve.near_digits(_PHONE_LIKE, text, 2):  # "+(" before its digits
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


def _covered(match: re.Match[str], taken: list[Found]) -> bool:
    return any(t[0] <= match.start() and match.end() <= t[1] for t in taken)
