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
            True,
        ),
        (
            Ending(
                error=UpstreamError("access_denied", "Access denied to this call"), close_code=1008
            ),
            FailureKind.ACCESS_DENIED,
            True,
        ),
        (Ending(close_code=1008, close_reason="Authentication failed"), FailureKind.AUTH, True),
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
        (Ending(handshake_status=401), FailureKind.AUTH, True),
        (Ending(handshake_status=403), FailureKind.AUTH, True),
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
