"""Phrases to watch for in a call ("cancel my account", "lawyer"), each with a severity.

The rules come from one setting string, a comma-separated list of entries::

    phrase[:severity][@speaker]

- ``phrase``: one or more words; it cannot hold ``,`` ``:`` or ``@``;
- ``severity``: ``low``, ``medium`` (the default) or ``high``;
- ``speaker``: whose segments it applies to: ``user`` (the default, the caller),
  ``assistant`` or ``any``.

For example ``cancel my account:high, lawyer:high, speak to a manager, refund:low@any``.
Spaces around each part are ignored, and so is an empty entry (a trailing comma).

Matching is case-insensitive (Unicode case folding, after NFKC normalisation, so
"LAWYER", "Lawyer" and its full-width form are the same word) and on whole
words: "lawyer" matches "Lawyer!", "my lawyer's" and "lawyer-up", never
"lawyers" or "flawyer"; a plural needs its own rule. Between the words of a
phrase any run of whitespace matches. Phrases are escaped, never regular
expressions, so no text can make matching slow or wrong.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, cast, get_args

Severity = Literal["low", "medium", "high"]
RuleSpeaker = Literal["user", "assistant", "any"]

SEVERITIES: tuple[str, ...] = get_args(Severity)
SPEAKERS: tuple[str, ...] = get_args(RuleSpeaker)
_RESERVED = re.compile(r"[,:@]")


def fold(text: str) -> str:
    """``text`` as matching sees it: NFKC-normalised and case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


@dataclass(frozen=True, slots=True)
class KeywordRule:
    """One phrase to watch for; raises ValueError when a field is out of its range."""

    phrase: str
    severity: Severity = "medium"
    speaker: RuleSpeaker = "user"

    def __post_init__(self) -> None:
        if not self.phrase.strip():
            raise ValueError("a keyword phrase cannot be empty")
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown keyword severity {self.severity!r} (low, medium or high)")
        if self.speaker not in SPEAKERS:
            raise ValueError(f"unknown keyword speaker {self.speaker!r} (user, assistant or any)")

    def applies_to(self, speaker: str) -> bool:
        return self.speaker == "any" or self.speaker == speaker


def parse_rules(text: str) -> list[KeywordRule]:
    """The rules in a setting string (format above); ``""`` gives none.

    Raises ValueError, with a one-line message naming the entry, on bad syntax,
    an unknown severity or speaker, or the same phrase twice for one speaker.
    """
    rules: list[KeywordRule] = []
    seen: set[tuple[str, str]] = set()
    for number, entry in enumerate(text.split(","), start=1):
        if not entry.strip():
            continue
        rule = _parse_entry(entry, number)
        key = (fold(rule.phrase), rule.speaker)
        if key in seen:
            raise ValueError(f"keyword entry {number}: {rule.phrase!r} is listed twice")
        seen.add(key)
        rules.append(rule)
    return rules


def _parse_entry(entry: str, number: int) -> KeywordRule:
    phrase, _, speaker = entry.partition("@")
    phrase, _, severity = phrase.partition(":")
    phrase, severity, speaker = (" ".join(phrase.split()), severity.strip(), speaker.strip())
    where = f"keyword entry {number} ({phrase or entry.strip()!r})"
    if not phrase:
        raise ValueError(f"keyword entry {number}: the phrase is empty")
    if _RESERVED.search(severity + speaker):
        raise ValueError(f"{where}: expected phrase[:severity][@speaker]")
    if severity not in ("", *SEVERITIES):
        raise ValueError(f"{where}: severity must be low, medium or high, not {severity!r}")
    if speaker not in ("", *SPEAKERS):
        raise ValueError(f"{where}: speaker must be user, assistant or any, not {speaker!r}")
    return KeywordRule(
        phrase,
        cast(Severity, severity or "medium"),
        cast(RuleSpeaker, speaker or "user"),
    )


def _pattern(phrase: str) -> re.Pattern[str]:
    words = [re.escape(word) for word in fold(phrase).split()]
    # Lookarounds, not \b: a phrase may start or end with a non-word character ("c++").
    # "No word character before the first word" is checked after it, as a look-behind
    # over the word too: a pattern that starts with its literal word is searched for at
    # C speed (a 16 KB segment: microseconds, not a millisecond a rule).
    first = rf"{words[0]}(?<!\w{words[0]})"
    return re.compile(r"\s+".join([first, *words[1:]]) + r"(?!\w)")


class KeywordMatcher:
    """Finds which rules a segment matches; the patterns are compiled once, here."""

    def __init__(self, rules: Iterable[KeywordRule]) -> None:
        self.rules = tuple(rules)
        self._patterns = tuple((rule, _pattern(rule.phrase)) for rule in self.rules)

    def matches(self, speaker: str, text: str) -> list[KeywordRule]:
        """The rules for ``speaker`` that ``text`` matches, each once, in rule order."""
        candidates = [(r, p) for r, p in self._patterns if r.applies_to(speaker)]
        if not candidates:
            return []
        folded = fold(text)
        return [rule for rule, pattern in candidates if pattern.search(folded)]
