"""Several runs of one part read as one table: medians, the spread, and how a goal was met.

On a shared machine one run compares two moments' load as much as two servers. So the
scale part can run ``--runs N`` times (ours, then nchan, in each run) and print, for each
metric, the median of the runs; for each ratio, the median of the runs' own ratios (ours
and nchan measured minutes apart in the same run, never across runs); and for each goal
whether it was met in every run, at the median only, or missed.

Pure: numbers in, numbers and words out.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

MET_EVERY_RUN = "met in every run"


def median(values: Sequence[float]) -> float:
    """The median of the values that are numbers (NaN: none is)."""
    known = [v for v in values if not math.isnan(v)]
    return statistics.median(known) if known else math.nan


def ratios(ours: Sequence[float], ref: Sequence[float]) -> list[float]:
    """Each run's ours / reference (NaN where either is missing or the reference is 0)."""
    return [
        a / b if not (math.isnan(a) or math.isnan(b)) and b != 0 else math.nan
        for a, b in zip(ours, ref, strict=True)
    ]


def spread(values: Sequence[float]) -> tuple[float, float] | None:
    """The lowest and the highest of the values that are numbers (None: none is)."""
    known = [v for v in values if not math.isnan(v)]
    return (min(known), max(known)) if known else None


def verdict(per_run: Sequence[bool], at_median: bool) -> str:
    """How a goal fared over the runs: judged in each run, and on the medians.

    One run: ``met`` or ``missed``. Several: ``met in every run``; ``met at the median
    only`` (the medians meet it, some run did not); or ``missed`` (the medians do not),
    saying in how many runs it was met all the same.
    """
    if len(per_run) == 1:
        return "met" if per_run[0] else "**missed**"
    met, runs = sum(per_run), len(per_run)
    if met == runs:
        return MET_EVERY_RUN
    if at_median:
        return f"met at the median only ({met} of {runs} runs)"
    return f"**missed** (met in {met} of {runs} runs)" if met else "**missed**"
