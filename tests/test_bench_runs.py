"""``python -m bench --part scale --runs N``: how N runs read as one table (issue 27).

Each figure is the median of the runs; each ratio the median of the runs' own ratios
(ours and nchan of the same run), with its spread; a goal is met in every run, at the
median only, or missed. The runs here are made up: the table's arithmetic, not a bench.
"""

from __future__ import annotations

import math
from typing import Any

from bench import runs, scale
from bench.phases import IdleResult, LiveResult

PLAN = scale.ScalePlan(
    [1_000, 10_000], [scale.Load("2,000 viewers x 4 ev/s", 2000, 1, 4.0)], 0, 0, 20, 0
)


def server(
    kib: float, cpu: float, p99: float, late: int = 0, reached: int = 10_000
) -> scale.ServerResult:
    """A server's made-up run: ``kib`` per idle viewer, ``cpu`` s per 1,000 deliveries."""
    idle = IdleResult(
        10_000, [(0, 100_000), (1_000, 100_000), (reached, 100_000 + int(kib * (reached - 1_000)))]
    )
    stats: dict[str, Any] = {
        "delivered": 1_000,
        "frames": 1_000,
        "sse_bytes": 400_000,
        "first_p50_ms": 5.0,
        "p50_ms": 20.0,
        "p99_ms": p99,
        "max_ms": p99 + 5,
        "late_events": late,
        "lost": 0,
        "duplicates": 0,
    }
    cpus = {"proxy": cpu, "viewers": 1.0, "publisher": 0.0, "others": 0.0}
    live = LiveResult(2000, 4.0, 20.0, 1, stats, cpus, {}, [], {})
    return scale.ServerResult(idle, [live])


def row(table: list[Any], starts: str) -> Any:
    return next(r for r in table if r.metric.startswith(starts) or starts in r.metric)


def test_each_ratio_is_the_median_of_the_runs_own_ratios_with_its_spread() -> None:
    found = [
        {"ours": server(18, 14.0, 40), "nchan": server(10, 10.0, 50)},  # 1.40x
        {"ours": server(18, 12.0, 40), "nchan": server(10, 6.0, 50)},  # 2.00x
        {"ours": server(18, 15.0, 40), "nchan": server(10, 12.0, 50)},  # 1.25x
    ]
    cpu = row(scale.rows(PLAN, found), "2,000 viewers x 4 ev/s: proxy CPU")
    # not 14.0 / 10.0 from the medians of each column: the runs' own ratios' median
    assert (cpu.ours, cpu.naive, cpu.ratio) == ("14.0000", "10.0000", "1.40x (1.25-2.00x)")
    assert cpu.verdict == "met at the median only (2 of 3 runs)"


def test_a_goal_met_in_every_run_says_so_and_a_missed_one_in_how_many_runs_it_was_met() -> None:
    every = [{"ours": server(18, 10.0, 40), "nchan": server(10, 10.0, 50)} for _ in range(3)]
    table = scale.rows(PLAN, every)
    assert row(table, "2,000 viewers x 4 ev/s: proxy CPU").verdict == runs.MET_EVERY_RUN
    assert row(table, "RSS per idle viewer").verdict == runs.MET_EVERY_RUN
    late = [
        {"ours": server(25, 20.0, 90, late=1), "nchan": server(10, 10.0, 50)},
        {"ours": server(25, 20.0, 90, late=3), "nchan": server(10, 10.0, 50)},
        {"ours": server(19, 10.0, 40, late=0), "nchan": server(10, 10.0, 50)},
    ]
    table = scale.rows(PLAN, late)
    assert row(table, "waited > 150 ms").verdict == "**missed** (met in 1 of 3 runs)"
    assert row(table, "waited > 150 ms").ours == "1"
    assert row(table, "p99 added latency").verdict == "**missed** (met in 1 of 3 runs)"
    assert row(table, "RSS per idle viewer").verdict == "**missed** (met in 1 of 3 runs)"


def test_one_run_reads_as_before_and_without_nchan_no_ratio_is_judged() -> None:
    one = scale.rows(PLAN, [{"ours": server(18, 16.0, 40), "nchan": server(10, 10.0, 50)}])
    cpu = row(one, "2,000 viewers x 4 ev/s: proxy CPU")
    assert (cpu.ratio, cpu.verdict) == ("1.60x", "**missed**")
    assert row(one, "RSS per idle viewer").verdict == "met"
    alone = scale.rows(PLAN, [{"ours": server(18, 16.0, 40)}] * 2)
    cpu = row(alone, "2,000 viewers x 4 ev/s: proxy CPU")
    assert (cpu.naive, cpu.ratio, cpu.verdict) == ("n/a", "", "")
    assert row(alone, "RSS per idle viewer").verdict == runs.MET_EVERY_RUN


def test_a_run_that_never_reached_its_idle_viewers_missed_the_memory_goal() -> None:
    short = [
        {"ours": server(18, 10.0, 40, reached=6_000), "nchan": server(10, 10.0, 50)},
        {"ours": server(18, 10.0, 40), "nchan": server(10, 10.0, 50)},
    ]
    assert row(scale.rows(PLAN, short), "RSS per idle viewer").verdict == (
        "met at the median only (1 of 2 runs)"
    )


def test_medians_leave_out_what_a_run_could_not_measure() -> None:
    assert runs.median([1.0, math.nan, 3.0]) == 2.0
    assert math.isnan(runs.median([math.nan]))
    assert runs.ratios([2.0, 1.0, math.nan], [1.0, 0.0, 1.0])[0] == 2.0
    assert all(math.isnan(r) for r in runs.ratios([2.0, 1.0, math.nan], [1.0, 0.0, 1.0])[1:])
    assert runs.spread([math.nan, 1.2, 0.9]) == (0.9, 1.2)
