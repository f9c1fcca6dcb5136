"""Embed links: signed, scoped, expiring, bound to the instance kind, and counted only while
their record stands in the store (revocable)."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.clocks import ManualClock
from webapp.access.embedlinks import (
    MAX_TTL_SECONDS,
    EmbedLinkError,
    EmbedLinkExpired,
    EmbedLinkRevoked,
    EmbedLinks,
    EmbedLinkTampered,
    EmbedLinkWrongInstance,
    EmbedLinkWrongScope,
    EmbedSigner,
    embed_scope,
    parse_ttl,
)
from webapp.access.embedstore import MAX_ACTIVE, EmbedStoreError, TomlEmbedLinks
from webapp.access.sessions import Instance

SECRET = "embed-secret-0123456789abcdef-0123456789"

Clock = ManualClock[float]


@pytest.fixture
def clock() -> Clock:
    return ManualClock(1_750_000_000.0)


def links_of(
    path: Path, clock: Clock, instance: Instance = "live", secret: str = SECRET
) -> EmbedLinks:
    return EmbedLinks(EmbedSigner(secret, instance, clock), TomlEmbedLinks(path))


@pytest.fixture
def embeds(tmp_path: Path, clock: Clock) -> EmbedLinks:
    return links_of(tmp_path / "embed-links.toml", clock)


def test_a_link_opens_its_call_until_it_expires(embeds: EmbedLinks, clock: Clock) -> None:
    made = embeds.mint("call", "CA123", 3600, "ada")
    grant = embeds.verify(made.token, embed_scope("call", "CA123"))
    assert (grant.kind, grant.ident, grant.link_id) == ("call", "CA123", made.record.id)
    assert grant.expires_at.timestamp() == clock.now + 3600
    clock.now += 3599
    assert embeds.is_valid(made.token, embed_scope("call", "CA123"))
    clock.now += 1
    with pytest.raises(EmbedLinkExpired) as caught:
        embeds.verify(made.token, embed_scope("call", "CA123"))
    assert caught.value.reason == "expired"


def test_a_revoked_link_opens_nothing_at_its_next_check(embeds: EmbedLinks) -> None:
    made = embeds.mint("campaign", "7", 3600, "ada")
    scope = embed_scope("campaign", 7)
    assert embeds.is_valid(made.token, scope)
    done = embeds.revoke(made.record.id, "grace")
    assert done.revoked_by == "grace" and done.revoked_at is not None
    with pytest.raises(EmbedLinkRevoked) as caught:
        embeds.verify(made.token, scope)
    assert caught.value.reason == "revoked"
    assert embeds.revoke(made.record.id, "someone else").revoked_by == "grace"  # once


def test_a_revocation_by_another_process_counts_at_the_next_check(
    tmp_path: Path, clock: Clock
) -> None:
    """Two stores on one file, as two nodes (or the CLI and a node) have."""
    path = tmp_path / "embed-links.toml"
    node, cli = links_of(path, clock), links_of(path, clock)
    made = node.mint("call", "CA1", 3600, "ada")
    scope = embed_scope("call", "CA1")
    assert cli.is_valid(made.token, scope) and node.is_valid(made.token, scope)
    cli.revoke(made.record.id, "cli:root")
    assert not node.is_valid(made.token, scope)
    assert [r.state(r.created_at) for r in node.list()] == ["revoked"]


def test_a_signed_token_without_a_record_opens_nothing(tmp_path: Path, clock: Clock) -> None:
    """Another instance with the same secret but its own store: its links are not ours."""
    elsewhere = links_of(tmp_path / "other.toml", clock)
    made = elsewhere.mint("call", "CA1", 3600, "mallory")
    with pytest.raises(EmbedLinkRevoked):
        links_of(tmp_path / "ours.toml", clock).verify(made.token, embed_scope("call", "CA1"))


def test_a_demo_instances_link_fails_on_a_live_one_even_with_the_same_store(
    tmp_path: Path, clock: Clock
) -> None:
    path = tmp_path / "embed-links.toml"
    demo, live = links_of(path, clock, "demo"), links_of(path, clock, "live")
    made = demo.mint("campaign", "1", 3600, "demo")
    with pytest.raises(EmbedLinkWrongInstance) as caught:
        live.verify(made.token, embed_scope("campaign", 1))
    assert caught.value.reason == "wrong_instance"
    assert demo.is_valid(made.token, embed_scope("campaign", 1))
    theirs = live.mint("campaign", "1", 3600, "ada")
    assert not demo.is_valid(theirs.token, embed_scope("campaign", 1))


def test_a_link_for_one_call_never_opens_another_or_a_campaign(embeds: EmbedLinks) -> None:
    token = embeds.mint("call", "CA123", 600, "ada").token
    for kind, ident in [("call", "CA124"), ("campaign", "123"), ("wallboard", "all")]:
        with pytest.raises(EmbedLinkWrongScope) as caught:
            embeds.verify(token, embed_scope(kind, ident))
        assert caught.value.reason == "wrong_scope"


def test_a_wallboard_link_opens_the_wallboard_only(embeds: EmbedLinks) -> None:
    made = embeds.mint("wallboard", "all", 600, "ada")
    assert made.path.startswith("/embed/wallboard?token=")
    assert embeds.is_valid(made.token, embed_scope("wallboard"))
    assert not embeds.is_valid(made.token, embed_scope("call", "all"))
    with pytest.raises(ValueError, match="wallboard"):
        embed_scope("wallboard", "team-a")


def test_a_campaign_link_is_scoped_to_its_canonical_id(embeds: EmbedLinks) -> None:
    token = embeds.mint("campaign", "007", 600, "ada").token
    assert embeds.is_valid(token, embed_scope("campaign", 7))
    assert embeds.is_valid(token, embed_scope("campaign", "7"))
    assert not embeds.is_valid(token, embed_scope("campaign", 8))
    assert not embeds.is_valid(token, embed_scope("call", "7"))


@pytest.mark.parametrize("mangle", ["flip", "truncate", "garbage", "empty", "huge"])
def test_a_tampered_link_fails_as_tampered(embeds: EmbedLinks, mangle: str) -> None:
    token = embeds.mint("call", "CA1", 600, "ada").token
    bad = {
        "flip": token[:-2] + ("AA" if token[-2:] != "AA" else "BB"),
        "truncate": token[:-5],
        "garbage": "not.a.token",
        "empty": "",
        "huge": token * 20,
    }[mangle]
    with pytest.raises(EmbedLinkTampered) as caught:
        embeds.verify(bad, embed_scope("call", "CA1"))
    assert caught.value.reason == "tampered"


def test_a_link_signed_with_another_secret_is_tampered(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "embed-links.toml"
    other = links_of(path, clock, secret="another-secret-0123456789abcdef-0123456")
    token = other.mint("call", "CA1", 600, "ada").token
    with pytest.raises(EmbedLinkTampered):
        links_of(path, clock).verify(token, embed_scope("call", "CA1"))


def test_every_failure_is_an_embed_link_error() -> None:
    for kind in (EmbedLinkExpired, EmbedLinkTampered, EmbedLinkWrongScope):
        assert issubclass(kind, EmbedLinkError)
    assert issubclass(EmbedLinkWrongInstance, EmbedLinkError)
    assert issubclass(EmbedLinkRevoked, EmbedLinkError)


def test_a_minted_link_builds_the_embed_path_with_its_token(embeds: EmbedLinks) -> None:
    made = embeds.mint("call", "CA9", 600, "ada")
    assert made.path.startswith("/embed/calls/CA9?token=")
    token = parse_qs(urlsplit(made.path).query)["token"][0]
    assert embeds.is_valid(token, embed_scope("call", "CA9"))
    full = embeds.mint("campaign", 4, 600, "ada").url("https://live.example.com/")
    assert full.startswith("https://live.example.com/embed/campaigns/4?token=")
    with pytest.raises(ValueError, match="http"):
        made.url("javascript:alert(1)")


def test_minting_refuses_bad_ids_and_lifetimes_and_keeps_nothing(embeds: EmbedLinks) -> None:
    with pytest.raises(ValueError, match="call id"):
        embeds.mint("call", "../etc", 600, "ada")
    with pytest.raises(ValueError, match="campaign id"):
        embeds.mint("campaign", "-1", 600, "ada")
    with pytest.raises(ValueError, match="lifetime"):
        embeds.mint("call", "CA1", 0, "ada")
    with pytest.raises(ValueError, match="lifetime"):
        embeds.mint("call", "CA1", MAX_TTL_SECONDS + 1, "ada")
    assert embeds.list() == []


def test_the_store_keeps_records_not_tokens_in_a_private_file(
    tmp_path: Path, embeds: EmbedLinks
) -> None:
    made = embeds.mint("call", "CA1", 600, "ada")
    path = tmp_path / "embed-links.toml"
    text = path.read_text()
    assert made.record.id in text and made.token not in text
    assert made.token.split(".")[-1] not in text  # not even the signature
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    [listed] = embeds.list()
    assert (listed.id, listed.scope, listed.created_by, listed.instance) == (
        made.record.id,
        "call:CA1",
        "ada",
        "live",
    )


def test_active_links_are_capped_and_old_ones_drop_off(
    tmp_path: Path, embeds: EmbedLinks, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("webapp.access.embedstore.MAX_ACTIVE", 3)
    for _ in range(3):
        embeds.mint("call", "CA1", 60, "ada")
    with pytest.raises(EmbedStoreError, match="revoke some"):
        embeds.mint("call", "CA1", 60, "ada")
    clock.now += 61  # expired: they no longer count against the cap
    embeds.mint("call", "CA1", 60, "ada")
    clock.now += 8 * 86_400  # expired a week ago: no longer listed
    embeds.mint("call", "CA1", 60, "ada")
    assert len(embeds.list()) == 1
    assert MAX_ACTIVE >= 100


def test_revoking_an_unknown_link_is_an_error(embeds: EmbedLinks) -> None:
    with pytest.raises(EmbedStoreError, match="no embed link"):
        embeds.revoke("nope", "ada")


def test_a_short_secret_is_refused_and_no_secret_shows_in_repr(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 32"):
        EmbedSigner("short")
    assert SECRET not in repr(EmbedSigner(SECRET))
    assert SECRET not in repr(EmbedLinks(EmbedSigner(SECRET), TomlEmbedLinks(tmp_path / "x")))


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


def test_concurrent_makers_and_revokers_on_one_file_lose_nothing(
    tmp_path: Path, clock: Clock
) -> None:
    """Nodes and the CLI write one file at once: every link made is kept, every revocation
    holds (the tokens' lock and atomic replace)."""
    path = tmp_path / "embed-links.toml"
    first = links_of(path, clock).mint("call", "CA0", 600, "ada")

    def work(n: int) -> list[str]:
        mine = links_of(path, clock)  # a store of its own, as another process has
        made = [mine.mint("call", f"CA{n}x{k}", 600, f"maker-{n}").record.id for k in range(8)]
        mine.revoke(made[0], f"maker-{n}")
        if n == 0:
            mine.revoke(first.record.id, "maker-0")
        return made

    with ThreadPoolExecutor(max_workers=6) as pool:
        made = [link for batch in pool.map(work, range(6)) for link in batch]
    records = {r.id: r for r in links_of(path, clock).list()}
    assert set(made) | {first.record.id} == set(records)
    revoked = {r.id for r in records.values() if r.revoked_at is not None}
    assert revoked == {first.record.id} | set(made[::8])
    assert not links_of(path, clock).is_valid(first.token, embed_scope("call", "CA0"))
