"""How a caller sounds: one segment's sentiment score, and a call's rolling average.

The scorer is VADER (``vaderSentiment``), a lexicon and rule-based analyser
tuned for short, informal English. Its lexicons are data files inside the
installed package, read once when a :class:`SentimentScorer` is built: nothing
is downloaded, at install or at run time.

VADER copies the whole text's words, lowercased, for each check of each sentiment word
(its negation and idiom checks), so a long text cost time by its words squared (4,000
characters of speech: 11 ms), and it first rebuilds the text a character at a time to
describe its emoji in words. :class:`_Windowed` has those checks read only the words they
need (three before the word, two after), and skips the rebuild for an ASCII text (which
holds no emoji): the same scores, in time by the words (4,000 characters of speech:
about 0.8 ms).

Pure: no I/O after construction, no tasks, no clock.
"""

from __future__ import annotations

import string
from collections import deque
from types import SimpleNamespace
from typing import Any

from vaderSentiment.vaderSentiment import (  # type: ignore[import-untyped]
    BOOSTER_DICT,
    N_SCALAR,
    NEGATE,
    SentimentIntensityAnalyzer,
    allcap_differential,
)

MAX_CHARS = 4000
"""Text scored per segment; beyond it is ignored (a transcript segment is a sentence or
two, and scoring runs on the event loop)."""


_PUNCTUATION = string.punctuation  # what VADER strips from a word's ends
_NEGATIONS = frozenset(NEGATE)
_FLIP: float = N_SCALAR  # what a negation multiplies a valence by


def _negated(lower: str) -> bool:
    """VADER's ``negated([word])`` of one lower-cased word."""
    return lower in _NEGATIONS or "n't" in lower


# The words around word ``i`` that VADER's idiom checks read: i-3 to i+2.
_BEFORE, _AFTER = 3, 3


class _Windowed(SentimentIntensityAnalyzer):  # type: ignore[misc]
    """VADER whose negation and idiom checks read the words they need, not a copy of all.

    Both are called only where every index they read is in ``i-3 .. i+2`` and not
    negative (``i > start_i``; the idioms' only with ``i > 2``); the idioms' check asks
    the list's length only to know whether ``i+1`` and ``i+2`` exist, which its window
    keeps. So each gives what VADER's gives on the whole list: ``tests/test_sentiment.py``
    compares the scores with VADER's own on random texts of its lexicon, boosters,
    negations and idioms."""

    def polarity_scores(self, text: str) -> dict[str, float]:
        if not text.isascii():  # it may hold emoji: VADER's own way
            return dict(super().polarity_scores(text))
        # VADER's steps after the emoji (which an ASCII text has none of, so the text it
        # rebuilds is the text itself), as in vaderSentiment 3.3.2, with its per-word
        # calls written out: a word it neither knows nor boosts with scores 0.
        text = text.strip()
        words = [w if len(bare := w.strip(_PUNCTUATION)) <= 2 else bare for w in text.split()]
        said = SimpleNamespace(words_and_emoticons=words, is_cap_diff=allcap_differential(words))
        lexicon, last = self.lexicon, len(words) - 1
        sentiments: list[Any] = []
        for i, item in enumerate(words):
            lower = item.lower()
            if (
                lower not in lexicon
                or lower in BOOSTER_DICT
                or (lower == "kind" and i < last and words[i + 1].lower() == "of")
            ):
                sentiments.append(0)
            else:
                sentiments = self.sentiment_valence(0, said, item, i, sentiments)
        sentiments = self._but_check(words, sentiments)
        return dict(self.score_valence(sentiments, text))

    @staticmethod
    def _negation_check(valence: float, words: list[str], start_i: int, i: int) -> float:
        # VADER 3.3.2's check, reading the three words before word ``i`` only (its own
        # copies all the words, and its ``negated`` copies its list of negations, for
        # each of them): "never so/this" boosts, "without doubt" keeps, a negation flips.
        word = [w.lower() for w in words[max(0, i - 3) : i]][::-1]  # word[k]: i-1-k
        if start_i == 0 and _negated(word[0]):
            return valence * _FLIP
        if start_i == 1:
            if word[1] == "never" and word[0] in ("so", "this"):
                return valence * 1.25
            if word[1] == "without" and word[0] == "doubt":
                return valence
            return valence * _FLIP if _negated(word[1]) else valence
        if start_i == 2:
            if (word[2] == "never" and word[1] in ("so", "this")) or word[0] in ("so", "this"):
                return valence * 1.25
            if word[2] == "without" and "doubt" in (word[1], word[0]):
                return valence
            return valence * _FLIP if _negated(word[2]) else valence
        return valence

    @staticmethod
    def _special_idioms_check(valence: float, words: list[str], i: int) -> float:
        low = max(0, i - _BEFORE)
        check = SentimentIntensityAnalyzer._special_idioms_check
        return float(check(valence, words[low : i + _AFTER], i - low))


class SentimentScorer:
    """Scores text from -1 (most negative) to +1 (most positive); 0 is neutral or empty.

    Build one per process and share it: loading the lexicons takes a few
    milliseconds, scoring a sentence a few dozen microseconds.
    """

    def __init__(self, max_chars: int = MAX_CHARS) -> None:
        self._analyser = _Windowed()
        self._max_chars = max_chars

    def score(self, text: str) -> float:
        """VADER's compound score of ``text`` (its first ``max_chars`` characters)."""
        scores = self._analyser.polarity_scores(text[: self._max_chars])
        return max(-1.0, min(1.0, float(scores["compound"])))


class RollingSentiment:
    """The average of the last ``window`` scores, and the last ``trend_size`` scores.

    ``average`` is None before the first score. ``trend`` (oldest first) is what
    a sparkline draws; it keeps at least ``window`` scores.
    """

    def __init__(self, window: int = 10, trend_size: int = 20) -> None:
        if window < 1:
            raise ValueError("the sentiment window must hold at least one segment")
        self.window = window
        self._scores: deque[float] = deque(maxlen=max(window, trend_size))

    def add(self, score: float) -> float:
        """Record a score; return the new average."""
        self._scores.append(score)
        average = self.average
        assert average is not None
        return average

    @property
    def average(self) -> float | None:
        recent = list(self._scores)[-self.window :]
        return round(sum(recent) / len(recent), 4) if recent else None

    @property
    def trend(self) -> list[float]:
        return list(self._scores)

    @property
    def count(self) -> int:
        """Scores in the window (at most ``window``)."""
        return min(len(self._scores), self.window)
