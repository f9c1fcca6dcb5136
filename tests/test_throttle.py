from __future__ import annotations

import pytest

from tests.clocks import ManualClock
from webapp.access.throttle import SignInThrottle, address_key

Clock = ManualClock[float]


@pytest.fixture
def clock() -> Clock:
    return ManualClock(1000.0)


def test_a_user_is_held_after_five_failures_until_the_oldest_leaves_the_window(
    clock: Clock,
) -> None:
    throttle = SignInThrottle(clock=clock)
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"):
        throttle.record_failure("alice", address)
        clock.now += 10
    assert throttle.check("alice", "10.0.0.9") is None
    throttle.record_failure("alice", "10.0.0.5")
    assert throttle.check("alice", "10.0.0.9") == 900 - 40
    assert throttle.check("ALICE", "10.0.0.9") is not None  # names are case-folded
    assert throttle.check("bob", "10.0.0.9") is None
    clock.now = 1000.0 + 900
    assert throttle.check("alice", "10.0.0.9") is None


def test_an_address_is_held_after_twenty_failures_over_any_names(clock: Clock) -> None:
    throttle = SignInThrottle(clock=clock)
    for n in range(19):
        throttle.record_failure(f"user{n}", "192.0.2.7")
    assert throttle.check("someone", "192.0.2.7") is None
    throttle.record_failure("user19", "192.0.2.7")
    assert throttle.check("someone", "192.0.2.7") == 900
    assert throttle.check("someone", "192.0.2.8") is None


def test_the_longer_of_the_two_waits_is_returned(clock: Clock) -> None:
    throttle = SignInThrottle(per_user=2, per_address=1, window=60, clock=clock)
    throttle.record_failure("alice", "192.0.2.1")
    throttle.record_failure("alice", "192.0.2.1")
    clock.now += 30
    throttle.record_failure("bob", "192.0.2.2")
    assert throttle.check("alice", "192.0.2.3") == 30
    assert throttle.check("alice", "192.0.2.2") == 60


def test_success_resets_the_user_but_not_the_address(clock: Clock) -> None:
    throttle = SignInThrottle(per_user=2, per_address=3, clock=clock)
    for _ in range(2):
        throttle.record_failure("alice", "192.0.2.1")
    assert throttle.check("alice", "192.0.2.9") is not None
    throttle.reset("Alice")
    assert throttle.check("alice", "192.0.2.9") is None
    throttle.record_failure("mallory", "192.0.2.1")
    assert throttle.check("anyone", "192.0.2.1") is not None


def test_a_wait_is_at_least_one_whole_second(clock: Clock) -> None:
    throttle = SignInThrottle(per_user=1, window=10, clock=clock)
    throttle.record_failure("alice", "192.0.2.1")
    clock.now += 9.9
    assert throttle.check("alice", "192.0.2.1") == 1


def test_memory_stays_bounded_under_a_flood_of_names_and_addresses(clock: Clock) -> None:
    throttle = SignInThrottle(max_keys=100, clock=clock)
    for n in range(10_000):
        throttle.record_failure(f"user{n}", f"10.{n // 65536}.{n // 256 % 256}.{n % 256}")
    assert len(throttle.users.failures) == 100
    assert len(throttle.addresses.failures) == 100
    assert "user9999" in throttle.users.failures  # the newest are kept
    for _ in range(50):
        throttle.record_failure("alice", "10.0.0.1")
    assert len(throttle.users.failures["alice"]) == 5  # times per key are bounded too


def test_old_failures_are_forgotten(clock: Clock) -> None:
    throttle = SignInThrottle(clock=clock)
    throttle.record_failure("alice", "192.0.2.1")
    clock.now += 901
    assert throttle.check("alice", "192.0.2.1") is None
    assert "alice" not in throttle.users.failures


def test_ipv6_addresses_are_throttled_by_their_64_network() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_key(" 192.0.2.1 ") == "192.0.2.1"
    assert address_key("unix-socket") == "unix-socket"


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        SignInThrottle(per_user=0)
