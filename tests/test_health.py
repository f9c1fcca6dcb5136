"""Live call health figures from hand-made timelines: overlaps, nulls, arrival fallbacks."""

from __future__ import annotations

from typing import Any

from tests import configs
from tests.healthoracle import interruptions, latencies, silences, talk, turns
from webapp.relay import health
from webapp.relay.health import HealthConfig, Mark, Timeline, next_due, wall
from webapp.relay.healthtally import Tally


def measure(line: Timeline, now: float, config: HealthConfig) -> dict[str, Any]:
    """The figures as the relay measures them: the marks folded into a running tally."""
    tally = Tally(config)
    for mark in line.marks:
        tally.insert(None, mark)
    return health.measure(line, now, config, tally.summary())


T0 = 1_800_000_000.0  # the call's start, wall time
CONFIG = configs.health(silence_warn=5, silence_alarm=10, slow_response=2, long_call=900)


def seg(speaker: str, start: float | None, end: float | None, arrived: float | None = None) -> Mark:
    """A segment at call time [start, end], arriving (by default) as it ends."""
    when = arrived if arrived is not None else T0 + (end if end is not None else 0)
    return Mark(speaker, start, end, when)


CONVERSATION = [
    seg("assistant", 0.5, 2.0),  # greeting
    seg("user", 3.0, 6.0),
    seg("assistant", 7.2, 9.0),  # latency 1.2, silence 1.2
    seg("user", 10.0, 14.0),
    seg("assistant", 17.1, 20.0),  # latency 3.1, silence 3.1
    seg("user", 32.0, 33.0),  # silence 12 (after the assistant)
    seg("assistant", 34.0, 36.0),  # latency 1.0
]


def test_latency_is_caller_end_to_assistant_start_latest_median_worst() -> None:
    waits, source = latencies(CONVERSATION)
    assert [round(w, 1) for w in waits] == [1.2, 3.1, 1.0]
    assert source == "timing"
    figures = measure(Timeline(CONVERSATION, started=T0), T0 + 37, CONFIG)
    assert figures["latency"] == {
        "latest": 1.0,
        "median": 1.2,
        "worst": 3.1,
        "count": 3,
        "source": "timing",
        "clock_skew": None,
        "slow": False,
    }


def test_the_slow_flag_follows_the_latest_answer() -> None:
    line = Timeline(CONVERSATION[:5], started=T0)
    assert measure(line, T0 + 21, CONFIG)["latency"]["slow"] is True  # 3.1 s


def test_silences_count_past_the_thresholds_and_keep_the_longest() -> None:
    assert [round(s, 1) for s in silences(CONVERSATION)] == [1.0, 1.2, 1.0, 3.1, 12.0, 1.0]
    figures = measure(Timeline(CONVERSATION, started=T0), T0 + 37, CONFIG)
    silence = figures["silence"]
    assert (silence["longest"], silence["warn_count"], silence["alarm_count"]) == (12.0, 1, 1)


def test_an_overlap_is_an_interruption_and_no_silence_nor_latency() -> None:
    line = [
        seg("user", 0.0, 5.0),
        seg("assistant", 4.0, 8.0),  # barges in 1 s before the caller stopped
        seg("user", 7.5, 9.0),  # talks over the assistant
        seg("user", 9.5, 9.8),
        seg("assistant", 8.5, 8.9),  # inside the caller's long turn: no silence after it
    ]
    assert latencies(line)[0] == []  # the only user->assistant pairs overlap
    assert interruptions(line) == {"user": 1, "assistant": 1}
    assert [round(s, 1) for s in silences(line)] == [0.5]  # 9.0 -> 9.5 only


def test_a_short_segment_inside_a_long_one_does_not_create_silence() -> None:
    line = [seg("user", 0.0, 10.0), seg("assistant", 2.0, 3.0), seg("user", 10.5, 11.0)]
    assert [round(s, 1) for s in silences(line)] == [0.5]  # from the furthest end, 10.0


def test_null_timings_fall_back_to_arrival_times_and_say_so() -> None:
    line = [
        Mark("user", None, None, T0 + 10.0),
        Mark("assistant", None, None, T0 + 12.5),
        Mark("user", None, None, T0 + 30.0),
    ]
    waits, source = latencies(line)
    assert waits == [2.5] and source == "arrival"
    assert silences(line) == [2.5, 17.5]
    figures = measure(Timeline(line, started=T0), T0 + 31, CONFIG)
    # Nothing is invented: no talk time, no interruption without timings.
    assert figures["talk"] == {"user": 0.0, "assistant": 0.0, "user_share": None, "untimed": 3}
    assert figures["interruptions"] == {"total": 0, "user": 0, "assistant": 0}


def test_a_mix_of_timed_and_untimed_segments_never_mixes_the_axes() -> None:
    line = [
        seg("user", 3.0, 6.0),  # arrives at T0 + 6
        Mark("assistant", None, 9.0, T0 + 9.5),  # start unknown: arrivals, 3.5 s
        seg("user", 10.0, 12.0),
        seg("assistant", 13.0, 15.0),  # both known: 1.0 s
    ]
    waits, source = latencies(line)
    assert [round(w, 1) for w in waits] == [3.5, 1.0]
    assert source == "mixed"
    assert talk(line)["untimed"] == 1


def test_a_segment_with_only_an_end_bounds_the_next_gap_on_call_time() -> None:
    line = [Mark("user", None, 6.0, T0 + 6), seg("assistant", 7.0, 8.0)]
    assert silences(line) == [1.0]


def test_talk_ratio_and_turns() -> None:
    figures = measure(Timeline(CONVERSATION, started=T0), T0 + 37, CONFIG)
    assert figures["talk"] == {
        "user": 8.0,
        "assistant": 8.2,
        "user_share": 0.49,
        "untimed": 0,
    }
    assert turns(CONVERSATION) == 7
    assert turns([seg("user", 0, 1), seg("user", 1, 2), seg("assistant", 3, 4)]) == 2


def test_running_silence_ticks_from_the_latest_activity_and_names_its_level() -> None:
    line = Timeline(CONVERSATION, started=T0, activity=T0 + 36)
    assert measure(line, T0 + 38, CONFIG)["silence"]["level"] == "ok"
    warn = measure(line, T0 + 42, CONFIG)["silence"]
    assert (warn["seconds"], warn["level"]) == (6.0, "warn")
    assert warn["since"] == "2027-01-15T08:00:36.000Z"
    assert measure(line, T0 + 47, CONFIG)["silence"]["level"] == "alarm"


def test_no_running_silence_while_someone_speaks_or_after_the_end() -> None:
    speaking = Timeline(CONVERSATION, started=T0, activity=T0 + 40, speaking="user")
    figures = measure(speaking, T0 + 42, CONFIG)["silence"]
    assert (figures["since"], figures["level"], figures["speaking"]) == (None, "ok", "user")
    # An interim that stopped coming long ago is silence again.
    stale = measure(speaking, T0 + 52, CONFIG)["silence"]
    assert (stale["level"], stale["speaking"]) == ("alarm", None)
    over = Timeline(CONVERSATION, started=T0, ended=T0 + 37, is_over=True, activity=T0 + 36)
    figures = measure(over, T0 + 100, CONFIG)
    assert figures["silence"]["since"] is None and figures["length"] == 37.0


def test_before_anything_is_said_silence_runs_from_the_start() -> None:
    figures = measure(Timeline([], started=T0), T0 + 6, CONFIG)
    assert figures["silence"]["level"] == "warn"
    assert figures["latency"]["latest"] is None and figures["turns"] == 0
    unknown = measure(Timeline([]), T0, CONFIG)
    assert unknown["silence"]["since"] is None and unknown["length"] is None


def test_long_calls_are_flagged() -> None:
    line = Timeline(CONVERSATION, started=T0, activity=T0 + 899)
    assert measure(line, T0 + 899, CONFIG)["long"] is False
    assert measure(line, T0 + 901, CONFIG)["long"] is True


def test_next_due_is_the_next_threshold_crossing() -> None:
    line = Timeline(CONVERSATION, started=T0, activity=T0 + 36)
    assert next_due(line, T0 + 37, CONFIG) == T0 + 41
    assert next_due(line, T0 + 41.5, CONFIG) == T0 + 46
    assert next_due(line, T0 + 50, CONFIG) == T0 + 900
    assert next_due(Timeline(CONVERSATION, is_over=True), T0, CONFIG) is None


def test_wall_reads_naive_and_zoned_times_and_refuses_junk() -> None:
    assert wall("2027-01-15T08:00:00") == T0
    assert wall("2027-01-15T08:00:00Z") == T0
    assert wall("2027-01-15T09:00:00+01:00") == T0
    assert wall("yesterday") is None and wall(None) is None


def test_a_call_marked_no_activity_has_no_running_silence_and_no_timer() -> None:
    line = Timeline(CONVERSATION, started=T0, activity=T0 + 36, dormant=True)
    figures = measure(line, T0 + 700, CONFIG)
    assert figures["silence"]["since"] is None and figures["silence"]["level"] == "ok"
    assert figures["dormant"] is True and figures["long"] is False
    assert next_due(line, T0 + 700, CONFIG) == T0 + 900  # only the long call is still due


def test_two_clocks_for_the_two_speakers_are_found_and_measured_by_arrival() -> None:
    """The open-source Burki times the caller on the recogniser's stream clock and the
    assistant since the call's start: answers then seem to start before the question
    ended. Found from when each segment arrived, every figure between them falls back to
    arrival times, and the figures say by how much the clocks differ."""
    ahead, delay = 2.5, 0.3  # the caller's clock runs ahead; its finals come a bit late

    def caller(start: float, end: float) -> Mark:
        return seg("user", start + ahead, end + ahead, T0 + end + delay)

    marks = [
        seg("assistant", 0.5, 2.0),
        caller(3.0, 6.0),
        seg("assistant", 7.2, 9.0),
        caller(10.0, 14.0),
        seg("assistant", 15.0, 20.0),
    ]
    assert latencies(marks[:3])[0] == []  # on the timing alone, the answer came before
    figures = measure(Timeline(marks, started=T0), T0 + 21, CONFIG)
    assert figures["latency"]["source"] == "arrival"
    assert figures["latency"]["clock_skew"] == ahead - delay  # the caller's clock, ahead
    assert figures["latency"]["count"] == 2  # 9.0 - 6.3 and 20.0 - 14.3, by arrival
    assert [figures["latency"]["latest"], figures["latency"]["worst"]] == [5.7, 5.7]
    assert figures["interruptions"]["total"] == 0  # no answer "interrupted" its question
    assert interruptions(marks) == {"user": 0, "assistant": 0}


def test_one_clock_for_both_speakers_keeps_the_timing() -> None:
    late = [seg(m.speaker, m.start, m.end, m.arrived + 0.4) for m in CONVERSATION]
    figures = measure(Timeline(late, started=T0), T0 + 37, CONFIG)
    assert figures["latency"]["source"] == "timing" and figures["latency"]["clock_skew"] is None
