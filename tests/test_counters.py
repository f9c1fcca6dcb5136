from __future__ import annotations

import pytest

from webapp.wire.counters import Counts, read_a, read_b, read_c, to_counters
from webapp.wire.events import Counters
from webapp.wire.fields import Invalid


def test_completed_means_every_done_contact_in_a_but_only_successes_in_b_and_c() -> None:
    a = read_a({"total_contacts": 10, "completed_contacts": 4, "successful_contacts": 3})
    b = read_b({"total_contacts": 10, "completed_contacts": 3, "failed_contacts": 1})
    c = read_c({"total_contacts": 10, "completed": 3, "failed": 1})
    assert to_counters(a) == to_counters(b) == to_counters(c)
    assert to_counters(a).completed == 4
    assert to_counters(a).successful == 3


def test_rate_and_percent_are_computed_from_counts_over_sent_values() -> None:
    counts = Counts(total=8, successful=1, failed=3, rate=99.0, percent=1.0)
    assert to_counters(counts) == Counters(8, 4, 1, 3, 0, 4, 25.0, 50.0)


def test_sent_rate_is_used_when_counts_cannot_give_it() -> None:
    assert to_counters(Counts(total=10, done=5, rate=0.5)).success_rate == 0.5


def test_sent_rate_outside_a_percent_range_reads_as_absent() -> None:
    assert read_c({"success_rate": 150.0}).rate is None


def test_no_rate_while_nothing_is_completed() -> None:
    assert to_counters(Counts(total=5, successful=0, failed=0)).success_rate is None


def test_absent_pending_and_in_progress_are_derived_from_the_rest() -> None:
    assert to_counters(Counts(total=10, successful=2, failed=1, pending=4)).in_progress == 3
    assert to_counters(Counts(total=10, successful=2, failed=1, in_progress=4)).pending == 3
    both_absent = to_counters(Counts(total=10, successful=2, failed=1))
    assert (both_absent.pending, both_absent.in_progress) == (7, 0)


def test_total_is_the_sum_of_the_parts_when_absent() -> None:
    assert to_counters(Counts(successful=1, failed=1, in_progress=2, pending=3)).total == 7


def test_inconsistent_counts_pass_through_unclamped() -> None:
    counters = to_counters(Counts(total=2, successful=3, failed=1))
    assert (counters.total, counters.completed, counters.pending) == (2, 4, 0)
    assert counters.percent_done == 200.0


def test_an_outcome_above_the_completed_count_is_invalid() -> None:
    with pytest.raises(Invalid, match="exceeds the completed count"):
        to_counters(Counts(total=10, done=2, successful=3))


@pytest.mark.parametrize("value", [-1, 1.5, "3", True])
def test_a_wrong_count_is_invalid_and_names_its_field(value: object) -> None:
    with pytest.raises(Invalid, match="field pending is not a count"):
        read_c({"pending": value})
