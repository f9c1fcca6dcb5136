import random

from webapp.wire.backoff import Backoff


def test_delays_double_from_base_until_the_cap() -> None:
    backoff = Backoff(base=1.0, cap=60.0, jitter=0.0)
    assert [backoff.next_delay() for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]


def test_reset_starts_the_schedule_again() -> None:
    backoff = Backoff(base=1.0, cap=60.0, jitter=0.0)
    for _ in range(5):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() == 1.0


def test_jitter_stays_within_its_band_and_varies() -> None:
    backoff = Backoff(base=1.0, cap=60.0, jitter=0.5, rng=random.Random(1))
    delays = []
    for _ in range(200):
        backoff.reset()
        for _ in range(3):
            delay = backoff.next_delay()
        delays.append(delay)
    assert all(2.0 <= d <= 4.0 for d in delays)
    assert len(set(delays)) > 100


def test_floor_raises_a_short_delay_but_not_past_need() -> None:
    backoff = Backoff(base=1.0, cap=60.0, jitter=0.0)
    assert backoff.next_delay(floor=30.0) == 30.0
    for _ in range(6):
        backoff.next_delay()
    assert backoff.next_delay(floor=30.0) == 60.0


def test_a_very_long_outage_never_overflows() -> None:
    backoff = Backoff(base=1.0, cap=60.0, jitter=0.0)
    for _ in range(5000):
        delay = backoff.next_delay()
    assert delay == 60.0
