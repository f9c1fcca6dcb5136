from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.clocks import ManualClock
from webapp.access.embedlinks import (
    MAX_TTL_SECONDS,
    EmbedLinkError,
    EmbedLinkExpired,
    EmbedLinkTampered,
    EmbedLinkWrongScope,
    EmbedSigner,
    parse_ttl,
)

SECRET = "embed-secret-0123456789abcdef-0123456789"


Clock = ManualClock[float]


@pytest.fixture
def clock() -> Clock:
    return ManualClock(1_750_000_000.0)


@pytest.fixture
def signer(clock: Clock) -> EmbedSigner:
    return EmbedSigner(SECRET, clock)


def test_a_link_opens_its_call_until_it_expires(signer: EmbedSigner, clock: Clock) -> None:
    token = signer.sign("call", "CA123", 3600)
    grant = signer.verify(token, "call", "CA123")
    assert (grant.kind, grant.ident) == ("call", "CA123")
    assert grant.expires_at.timestamp() == clock.now + 3600
    clock.now += 3599
    assert signer.is_valid(token, "call", "CA123")
    clock.now += 1
    with pytest.raises(EmbedLinkExpired) as caught:
        signer.verify(token, "call", "CA123")
    assert caught.value.reason == "expired"


def test_a_link_for_one_call_never_opens_another_or_a_campaign(signer: EmbedSigner) -> None:
    token = signer.sign("call", "CA123", 600)
    for kind, ident in [("call", "CA124"), ("campaign", "123"), ("call", "bad id!")]:
        with pytest.raises(EmbedLinkWrongScope) as caught:
            signer.verify(token, kind, ident)  # type: ignore[arg-type]
        assert caught.value.reason == "wrong_scope"


def test_a_campaign_link_is_scoped_to_its_canonical_id(signer: EmbedSigner) -> None:
    token = signer.sign("campaign", "007", 600)
    assert signer.is_valid(token, "campaign", 7)
    assert signer.is_valid(token, "campaign", "7")
    assert not signer.is_valid(token, "campaign", 8)
    assert not signer.is_valid(token, "call", "7")


@pytest.mark.parametrize("mangle", ["flip", "truncate", "garbage", "empty", "huge"])
def test_a_tampered_link_fails_as_tampered(signer: EmbedSigner, mangle: str) -> None:
    token = signer.sign("call", "CA1", 600)
    bad = {
        "flip": token[:-2] + ("AA" if token[-2:] != "AA" else "BB"),
        "truncate": token[:-5],
        "garbage": "not.a.token",
        "empty": "",
        "huge": token * 20,
    }[mangle]
    with pytest.raises(EmbedLinkTampered) as caught:
        signer.verify(bad, "call", "CA1")
    assert caught.value.reason == "tampered"


def test_a_link_signed_with_another_secret_is_tampered(clock: Clock) -> None:
    other = EmbedSigner("another-secret-0123456789abcdef-0123456", clock)
    token = other.sign("call", "CA1", 600)
    with pytest.raises(EmbedLinkTampered):
        EmbedSigner(SECRET, clock).verify(token, "call", "CA1")


def test_every_failure_is_an_embed_link_error(signer: EmbedSigner) -> None:
    assert issubclass(EmbedLinkExpired, EmbedLinkError)
    assert issubclass(EmbedLinkTampered, EmbedLinkError)
    assert issubclass(EmbedLinkWrongScope, EmbedLinkError)


def test_link_builds_the_embed_path_with_its_token(signer: EmbedSigner) -> None:
    link = signer.link("", "call", "CA9", 600)
    assert link.startswith("/embed/calls/CA9?token=")
    token = parse_qs(urlsplit(link).query)["token"][0]
    assert signer.is_valid(token, "call", "CA9")
    full = signer.link("https://live.example.com/", "campaign", 4, 600)
    assert full.startswith("https://live.example.com/embed/campaigns/4?token=")
    with pytest.raises(ValueError, match="http"):
        signer.link("javascript:alert(1)", "call", "CA9", 600)


def test_signing_refuses_bad_ids_and_lifetimes(signer: EmbedSigner) -> None:
    with pytest.raises(ValueError, match="call id"):
        signer.sign("call", "../etc", 600)
    with pytest.raises(ValueError, match="campaign id"):
        signer.sign("campaign", "-1", 600)
    with pytest.raises(ValueError, match="lifetime"):
        signer.sign("call", "CA1", 0)
    with pytest.raises(ValueError, match="lifetime"):
        signer.sign("call", "CA1", MAX_TTL_SECONDS + 1)


def test_a_short_secret_is_refused_and_no_secret_shows_in_repr() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        EmbedSigner("short")
    assert SECRET not in repr(EmbedSigner(SECRET))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("8h", 28800), ("2d", 172800), (" 8H ", 28800)],
)
def test_parse_ttl_reads_seconds_minutes_hours_days(text: str, seconds: int) -> None:
    assert parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["", "8", "h", "8 h", "1.5h", "-1h", "0s", "31d", "8w"])
def test_parse_ttl_refuses_anything_else_in_one_line(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_ttl(text)
    assert "\n" not in str(caught.value)
