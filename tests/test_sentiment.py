from __future__ import annotations

import subprocess
import sys

import pytest

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
