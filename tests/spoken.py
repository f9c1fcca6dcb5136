"""A number read the way people read it, and what counts as having shown it.

A :class:`Reading` is one speaker reading a planted value over any number of their own
final segments, with the other speaker's interims and finals between them and pauses
longer than the redactor's hold, words before the value and words after it (for a card,
now and then its security code or expiry). :func:`check` says what was revealed, given
every version of every segment anyone was shown (interims, finals, replacements) and
what stays once the call has settled (snapshot, export, alert excerpts, webhooks).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from hypothesis import strategies as st

from tests.planted import Secret, digits_of, noise, secrets
from webapp.wire.events import Speaker

# Said right after a card number: its security code or expiry, which must be masked too.
AFTER_CARD = ("and the code on the back is 737", "expiry 0927", "code seven three seven")
KEYWORD = "I will call my lawyer"  # a watched phrase: an alert quotes the segment
GAP_FINALS = ("Mm-hm.", "Okay, go on.", "Got it, 2 more groups.", "Yes?")
_MARKER = re.compile(r"\[[^\]]*\]")


@dataclass(frozen=True)
class Gap:
    """What happens between two pieces: the other speaker, a pause past the hold."""

    interim: bool
    final: str | None
    pause: bool


@dataclass(frozen=True)
class Reading:
    secret: Secret
    speaker: Speaker
    pieces: tuple[str, ...]  # the speaker's finals: words, the value's part, words
    parts: tuple[str, ...]  # the value's part in each piece, as said
    gaps: tuple[Gap, ...]  # after each piece but the last
    after: str  # digits said after the value (a card's code), or ""

    @property
    def other(self) -> Speaker:
        return "assistant" if self.speaker == "user" else "user"


def _cuts(text: str) -> list[int]:
    """Where a reading may be cut into segments: at spaces, and every four digits inside a
    long run written together (ASR splits "4111111111111111" too)."""
    cuts = [i for i, char in enumerate(text) if char == " "]
    for match in re.finditer(r"\d{8,}", text):
        cuts += range(match.start() + 4, match.end(), 4)
    return sorted(set(cuts))


@st.composite
def readings(draw: st.DrawFn, max_pieces: int = 6) -> Reading:
    secret = draw(secrets())
    text = secret.text
    points = _cuts(text)
    chosen = (
        sorted(draw(st.sets(st.sampled_from(points), max_size=max_pieces - 1))) if points else []
    )
    bounds = [0, *chosen, len(text)]
    parts = [text[a:b].strip() for a, b in itertools.pairwise(bounds)]
    parts = [part for part in parts if part]
    ends = [draw(st.sampled_from(("", "", ",", ".", "?"))) for _ in parts[:-1]]
    before = draw(noise())
    if draw(st.booleans()):
        before = f"{before} {KEYWORD}, my number is".strip()
    after = (
        draw(st.sampled_from(AFTER_CARD)) if secret.kind == "card" and draw(st.booleans()) else ""
    )
    tail = " ".join(filter(None, [after, draw(noise())]))
    if draw(st.booleans()):
        tail = f"{tail}. {KEYWORD}".strip(". ")
    pieces = [f"{part}{end}" for part, end in zip(parts, [*ends, ""], strict=True)]
    pieces[0] = f"{before} {pieces[0]}".strip()
    pieces[-1] = f"{pieces[-1]} {tail}".strip() if tail else pieces[-1]
    gap = st.builds(Gap, st.booleans(), st.none() | st.sampled_from(GAP_FINALS), st.booleans())
    gaps = tuple(draw(st.lists(gap, min_size=len(parts) - 1, max_size=len(parts) - 1)))
    speaker: Speaker = draw(st.sampled_from(("user", "assistant")))
    return Reading(secret, speaker, tuple(pieces), tuple(parts), gaps, after)


def clear_digits(text: str) -> str:
    """The digits ``text`` shows in clear (a marker's own digits, as ``••••1111``, aside)."""
    return digits_of(_MARKER.sub(" ", text))


def _positions(part: str, offset: int, shown: str) -> set[int]:
    """Which digits of the value ``shown`` reveals, given the part of it a segment holds
    (starting at digit ``offset``): a prefix or a suffix of the part, else all of it."""
    digits = digits_of(part)
    if not shown:
        return set()
    if digits.startswith(shown):
        return set(range(offset, offset + len(shown)))
    if digits.endswith(shown):
        return set(range(offset + len(digits) - len(shown), offset + len(digits)))
    return set(range(offset, offset + len(digits))) | {-1}  # shown out of shape: a leak


def revealed(reading: Reading, versions: dict[int, Iterable[str]]) -> set[int]:
    """The positions of the value's digits revealed by ``versions`` (piece -> texts shown)."""
    out: set[int] = set()
    offset = 0
    after = digits_of(reading.after)
    for i, part in enumerate(reading.parts):
        for text in versions.get(i, ()):
            shown = clear_digits(text)
            if after and i == len(reading.parts) - 1:
                if after in shown:
                    out.add(-2)  # the card's code or expiry, in clear
                shown = shown.replace(after, "", 1)
            out |= _positions(part, offset, shown)
        offset += len(digits_of(part))
    return out


def allowed(reading: Reading, settled: bool) -> set[int]:
    """What may be revealed: a card's first six and last four (PCI DSS); an SSN's last four
    once the call has settled (live, a part said before the rest may show until then)."""
    n = len(reading.secret.needle)
    if reading.secret.kind == "card":
        return set(range(min(6, n))) | set(range(n - 4, n))
    if reading.secret.kind == "ssn":
        return set(range(5, 9)) if settled else set(range(9))
    return set()


def check(reading: Reading, versions: dict[int, list[str]], settled: bool) -> str | None:
    """Why ``versions`` leak the reading's value, or None when they do not."""
    secret = reading.secret
    everything = [text for texts in versions.values() for text in texts]
    if secret.kind == "email":
        return "the address" if any(secret.needle in text for text in everything) else None
    if secret.kind in ("card", "ssn"):
        extra = revealed(reading, versions) - allowed(reading, settled)
        if secret.kind == "ssn" and len(revealed(reading, versions) & set(range(9))) == 9:
            extra.add(-3)  # every digit shown, if not at once
        return f"digits at {sorted(extra)}" if extra else None
    whole = " ".join(clear_digits(text) for text in everything)
    if secret.needle in whole.replace(" ", "") or any(secret.needle in t for t in everything):
        return "the phone number"
    return None
