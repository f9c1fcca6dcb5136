"""How a caller sounds: one segment's sentiment score, and a call's rolling average.

The scorer is VADER (``vaderSentiment``), a lexicon and rule-based analyser
tuned for short, informal English. Its lexicons are data files inside the
installed package, read once when a :class:`SentimentScorer` is built: nothing
is downloaded, at install or at run time.

Pure: no I/O after construction, no tasks, no clock.
"""

from __future__ import annotations

from collections import deque

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # type: ignore[import-untyped]

MAX_CHARS = 4000
"""Text scored per segment; beyond it is ignored (a transcript segment is a sentence or
two, and scoring runs on the event loop)."""


class SentimentScorer:
    """Scores text from -1 (most negative) to +1 (most positive); 0 is neutral or empty.

    Build one per process and share it: loading the lexicons takes a few
    milliseconds, scoring a sentence a few dozen microseconds.
    """

    def __init__(self, max_chars: int = MAX_CHARS) -> None:
        self._analyser = SentimentIntensityAnalyzer()
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
