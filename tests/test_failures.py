import pytest

from webapp.wire.events import UpstreamError
from webapp.wire.failures import Ending, FailureKind, classify


@pytest.mark.parametrize(
    ("ending", "kind", "fatal"),
    [
        (
            Ending(
                error=UpstreamError("authentication_failed", "Authentication failed"),
                close_code=1008,
            ),
            FailureKind.AUTH,
            False,
        ),
        (
            Ending(
                error=UpstreamError("access_denied", "Access denied to this call"), close_code=1008
            ),
            FailureKind.ACCESS_DENIED,
            True,
        ),
        (Ending(close_code=1008, close_reason="Authentication failed"), FailureKind.AUTH, False),
        (
            Ending(close_code=1008, close_reason="Access denied to this call"),
            FailureKind.ACCESS_DENIED,
            True,
        ),
        (
            Ending(close_code=1008, close_reason="Rate limit exceeded"),
            FailureKind.RATE_LIMITED,
            False,
        ),
        (
            Ending(error=UpstreamError("rate_limited", "Too many connections"), close_code=1008),
            FailureKind.RATE_LIMITED,
            False,
        ),
        (
            Ending(established=True, error=UpstreamError("not_found", "Call CA1 not found")),
            FailureKind.NOT_FOUND,
            False,
        ),
        (Ending(handshake_status=401), FailureKind.AUTH, False),
        (Ending(handshake_status=403), FailureKind.AUTH, False),
        (Ending(handshake_status=404), FailureKind.NOT_FOUND, False),
        (Ending(handshake_status=429), FailureKind.RATE_LIMITED, False),
        (Ending(handshake_status=503), FailureKind.TRANSIENT, False),
        (Ending(established=True, close_code=1011), FailureKind.TRANSIENT, False),
        (Ending(established=True, close_code=None), FailureKind.TRANSIENT, False),
        (Ending(established=True, close_code=1009), FailureKind.TRANSIENT, False),
        (Ending(established=True, close_code=1000), FailureKind.TRANSIENT, False),
        (Ending(exception="ConnectionRefusedError"), FailureKind.TRANSIENT, False),
        (Ending(exception="TimeoutError"), FailureKind.TRANSIENT, False),
    ],
)
def test_every_way_a_connection_ends_is_classified(
    ending: Ending, kind: FailureKind, fatal: bool
) -> None:
    failure = classify(ending)
    assert (failure.kind, failure.fatal) == (kind, fatal)
    assert failure.message.endswith((".", ")."))


def test_an_auth_refusal_is_retried_at_most_once_a_minute_and_says_why() -> None:
    # Burki's database down refuses a valid key with 1008: not permanent, never a storm.
    for ending in (
        Ending(error=UpstreamError("authentication_failed", "Authentication failed")),
        Ending(close_code=1008, close_reason="Authentication failed"),
        Ending(handshake_status=401),
    ):
        failure = classify(ending)
        assert not failure.fatal
        assert failure.floor >= 60
        assert "once a minute" in failure.message


def test_a_restart_close_reconnects_promptly_not_after_a_backoff() -> None:
    for code in (1012, 1001):
        failure = classify(Ending(established=True, close_code=code))
        assert failure.kind is FailureKind.TRANSIENT and failure.prompt
    assert not classify(Ending(established=True, close_code=1011)).prompt


def test_a_missed_pong_is_a_dropped_connection_that_says_so() -> None:
    failure = classify(Ending(established=True, close_code=1000, pong_missed=2.5))
    assert failure.kind is FailureKind.TRANSIENT and not failure.fatal
    assert "no pong within 2.5 s" in failure.message


def test_slow_retries_for_not_found_and_rate_limits() -> None:
    assert classify(Ending(handshake_status=404)).floor >= 30
    assert classify(Ending(handshake_status=429)).floor >= 30
    assert classify(Ending(close_code=None)).floor == 0


def test_1011_before_anything_with_header_auth_means_the_header_was_not_understood() -> None:
    ending = Ending(established=False, close_code=1011)
    assert classify(ending, header_auth=True).kind is FailureKind.HEADER_REJECTED
    assert classify(ending, header_auth=False).kind is FailureKind.TRANSIENT


def test_1011_after_a_healthy_start_is_transient_even_with_header_auth() -> None:
    ending = Ending(established=True, close_code=1011)
    assert classify(ending, header_auth=True).kind is FailureKind.TRANSIENT


def test_an_auth_refusal_says_the_interval_it_is_really_retried_at() -> None:
    refused = Ending(close_code=1008, close_reason="Authentication failed")
    for every, words in ((5.0, "every 5 s"), (60.0, "once a minute"), (300.0, "every 5 minutes")):
        failure = classify(refused, auth_retry=every)
        assert failure.floor == every
        assert failure.message.endswith(f"trying again {words}.")
        assert failure.message.count("The key may be wrong") == 1
