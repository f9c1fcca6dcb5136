from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vaderSentiment.vaderSentiment import (  # type: ignore[import-untyped]
    BOOSTER_DICT,
    NEGATE,
    SentimentIntensityAnalyzer,
)

from webapp.alerts.sentiment import RollingSentiment, SentimentScorer


@pytest.fixture(scope="module")
def scorer() -> SentimentScorer:
    return SentimentScorer()


def test_an_angry_caller_scores_strongly_negative(scorer: SentimentScorer) -> None:
    assert scorer.score("This is ridiculous, I am furious. I hate this terrible service!") < -0.5


def test_a_polite_caller_scores_positive(scorer: SentimentScorer) -> None:
    assert scorer.score("Thank you so much, that was really helpful.") > 0.5


def test_empty_and_neutral_text_score_zero(scorer: SentimentScorer) -> None:
    assert scorer.score("") == 0.0
    assert scorer.score("   ") == 0.0
    assert scorer.score("It's four five seven two nine one.") == 0.0


def test_scores_stay_within_minus_one_and_one(scorer: SentimentScorer) -> None:
    for text in ("awful " * 500, "wonderful " * 500, "😡" * 300, "\x00\ud800 !!!"):
        assert -1.0 <= scorer.score(text) <= 1.0


def test_only_the_first_max_chars_are_scored() -> None:
    short = SentimentScorer(max_chars=20)
    assert short.score("a plain opening line " + "terrible " * 50) == 0.0


def test_the_lexicon_ships_with_the_package_and_needs_no_network() -> None:
    # A fresh interpreter whose socket module refuses to connect: building the
    # analyser and scoring must still work, so nothing is fetched at run time.
    code = (
        "import socket\n"
        "def refuse(*a, **k): raise OSError('network disabled in this test')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "from webapp.alerts.sentiment import SentimentScorer\n"
        "print(SentimentScorer().score('I hate this, it is awful'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) < -0.5


def test_rolling_average_covers_only_the_last_window_scores() -> None:
    rolling = RollingSentiment(window=3)
    assert rolling.average is None
    assert rolling.add(-0.9) == -0.9
    assert rolling.add(0.3) == -0.3
    assert rolling.add(0.0) == -0.2
    assert rolling.add(0.6) == 0.3  # -0.9 has left the window
    assert rolling.count == 3


def test_trend_keeps_the_last_scores_oldest_first() -> None:
    rolling = RollingSentiment(window=2, trend_size=4)
    for score in (0.1, 0.2, 0.3, 0.4, 0.5):
        rolling.add(score)
    assert rolling.trend == [0.2, 0.3, 0.4, 0.5]
    assert rolling.average == 0.45


def test_trend_is_never_shorter_than_the_window() -> None:
    rolling = RollingSentiment(window=5, trend_size=2)
    for score in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6):
        rolling.add(score)
    assert rolling.trend == [0.2, 0.3, 0.4, 0.5, 0.6]


def test_a_window_of_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        RollingSentiment(window=0)


# Words that steer VADER's rules: its lexicon's, its boosters, its negations, the words of
# its idioms and special cases, "but", "kind of", "least", "never so", "without doubt".
_ANALYSER = SentimentIntensityAnalyzer()
_STEERING = [
    *["no", "not", "never", "so", "this", "without", "doubt", "least", "at", "very", "but"],
    *["kind", "of", "sort", "nor", "or", "isn't", "don't", "!", "?", "!!", "???", ":)", ":("],
    *["the", "bomb", "shit", "kiss", "death", "yeah", "right", "to", "die", "for", "bus"],
    *["stop", "beating", "heart", "bad", "ass", "😀", "💔", "é", "-", "'", ""],
]
_VOCABULARY = sorted(_ANALYSER.lexicon)[::7] + sorted(BOOSTER_DICT) + sorted(NEGATE)


def spoken_texts() -> st.SearchStrategy[str]:
    word = st.sampled_from(_STEERING) | st.sampled_from(_VOCABULARY)
    cased = st.tuples(word, st.sampled_from([str, str, str.upper, str.title])).map(
        lambda pair: pair[1](pair[0])
    )
    space = st.sampled_from([" ", " ", " ", "  ", "\n", "\t"])
    return st.lists(st.tuples(cased, space), max_size=80).map(
        lambda parts: "".join(a + b for a, b in parts)
    )


@settings(max_examples=500, deadline=None)
@given(spoken_texts())
def test_the_scorer_gives_exactly_what_vader_gives(text: str) -> None:
    # The windowed checks and the ASCII steps written out must not move a score at all.
    assert SentimentScorer(max_chars=10**6)._analyser.polarity_scores(text) == (
        _ANALYSER.polarity_scores(text)
    )


def test_each_check_of_a_long_text_reads_a_few_words_not_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # VADER's negation and idiom checks copied all the text's words for each sentiment
    # word: 4,000 characters of speech cost 11 ms, by the words squared.
    lengths: list[int] = []
    for name in ("_negation_check", "_special_idioms_check"):
        check = getattr(SentimentIntensityAnalyzer, name)

        def counted(*args: Any, check: Any = check) -> Any:
            lengths.append(len(args[1]))
            return check(*args)

        monkeypatch.setattr(SentimentIntensityAnalyzer, name, staticmethod(counted))
    text = "I am not happy, this is terrible and so very bad, but thanks anyway. " * 60
    assert SentimentScorer().score(text) != 0.0
    assert lengths, "the checks ran"
    assert max(lengths) <= 6
