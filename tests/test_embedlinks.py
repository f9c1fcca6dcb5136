"""Embed links: signed, scoped, expiring, bound to the instance kind, and counted only while
their record stands in the store (revocable)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
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
from webapp.access.embedstore import MAX_ACTIVE, EmbedStoreError, StoredEmbedLinks
from webapp.access.sessions import Instance
from webapp.store.database import sqlite_url
from webapp.store.store import Store, open_store

SECRET = "embed-secret-0123456789abcdef-0123456789"

Clock = ManualClock[float]


@pytest.fixture
def clock() -> Clock:
    return ManualClock(1_750_000_000.0)


def links_of(
    store: Store, clock: Clock, instance: Instance = "live", secret: str = SECRET
) -> EmbedLinks:
    return EmbedLinks(EmbedSigner(secret, instance, clock), StoredEmbedLinks(store))


@pytest.fixture
def embeds(store_db: Store, clock: Clock) -> EmbedLinks:
    return links_of(store_db, clock)


@pytest.fixture
async def other_store(tmp_path: Path) -> AsyncIterator[Store]:
    """A store of another instance (a database of its own)."""
    store = await open_store(sqlite_url(tmp_path / "other.sqlite3"))
    try:
        yield store
    finally:
        await store.close()


async def test_a_link_opens_its_call_until_it_expires(embeds: EmbedLinks, clock: Clock) -> None:
    made = await embeds.mint("call", "CA123", 3600, "ada")
    grant = await embeds.verify(made.token, embed_scope("call", "CA123"))
    assert (grant.kind, grant.ident, grant.link_id) == ("call", "CA123", made.record.id)
    assert grant.expires_at.timestamp() == clock.now + 3600
    clock.now += 3599
    assert await embeds.is_valid(made.token, embed_scope("call", "CA123"))
    clock.now += 1
    with pytest.raises(EmbedLinkExpired) as caught:
        await embeds.verify(made.token, embed_scope("call", "CA123"))
    assert caught.value.reason == "expired"


async def test_a_revoked_link_opens_nothing_at_its_next_check(embeds: EmbedLinks) -> None:
    made = await embeds.mint("campaign", "7", 3600, "ada")
    scope = embed_scope("campaign", 7)
    assert await embeds.is_valid(made.token, scope)
    done = await embeds.revoke(made.record.id, "grace")
    assert done.revoked_by == "grace" and done.revoked_at is not None
    with pytest.raises(EmbedLinkRevoked) as caught:
        await embeds.verify(made.token, scope)
    assert caught.value.reason == "revoked"
    assert (await embeds.revoke(made.record.id, "someone else")).revoked_by == "grace"  # once


async def test_a_revocation_by_another_process_counts_at_the_next_check(
    store_db: Store, clock: Clock
) -> None:
    """Two parts on one database, as two nodes (or the CLI and a node) have."""
    node, cli = links_of(store_db, clock), links_of(store_db, clock)
    made = await node.mint("call", "CA1", 3600, "ada")
    scope = embed_scope("call", "CA1")
    assert await cli.is_valid(made.token, scope) and await node.is_valid(made.token, scope)
    await cli.revoke(made.record.id, "cli:root")
    assert not await node.is_valid(made.token, scope)
    assert [r.state(r.created_at) for r in await node.list()] == ["revoked"]


async def test_a_signed_token_without_a_record_opens_nothing(
    store_db: Store, other_store: Store, clock: Clock
) -> None:
    """Another instance with the same secret but its own store: its links are not ours."""
    elsewhere = links_of(other_store, clock)
    made = await elsewhere.mint("call", "CA1", 3600, "mallory")
    with pytest.raises(EmbedLinkRevoked):
        await links_of(store_db, clock).verify(made.token, embed_scope("call", "CA1"))


async def test_a_demo_instances_link_fails_on_a_live_one_even_with_the_same_store(
    store_db: Store, clock: Clock
) -> None:
    demo, live = links_of(store_db, clock, "demo"), links_of(store_db, clock, "live")
    made = await demo.mint("campaign", "1", 3600, "demo")
    with pytest.raises(EmbedLinkWrongInstance) as caught:
        await live.verify(made.token, embed_scope("campaign", 1))
    assert caught.value.reason == "wrong_instance"
    assert await demo.is_valid(made.token, embed_scope("campaign", 1))
    theirs = await live.mint("campaign", "1", 3600, "ada")
    assert not await demo.is_valid(theirs.token, embed_scope("campaign", 1))


async def test_a_link_for_one_call_never_opens_another_or_a_campaign(embeds: EmbedLinks) -> None:
    token = (await embeds.mint("call", "CA123", 600, "ada")).token
    for kind, ident in [("call", "CA124"), ("campaign", "123"), ("wallboard", "all")]:
        with pytest.raises(EmbedLinkWrongScope) as caught:
            await embeds.verify(token, embed_scope(kind, ident))
        assert caught.value.reason == "wrong_scope"


async def test_a_wallboard_link_opens_the_wallboard_only(embeds: EmbedLinks) -> None:
    made = await embeds.mint("wallboard", "all", 600, "ada")
    assert made.path.startswith("/embed/wallboard?token=")
    assert await embeds.is_valid(made.token, embed_scope("wallboard"))
    assert not await embeds.is_valid(made.token, embed_scope("call", "all"))
    with pytest.raises(ValueError, match="wallboard"):
        embed_scope("wallboard", "team-a")


async def test_a_campaign_link_is_scoped_to_its_canonical_id(embeds: EmbedLinks) -> None:
    token = (await embeds.mint("campaign", "007", 600, "ada")).token
    assert await embeds.is_valid(token, embed_scope("campaign", 7))
    assert await embeds.is_valid(token, embed_scope("campaign", "7"))
    assert not await embeds.is_valid(token, embed_scope("campaign", 8))
    assert not await embeds.is_valid(token, embed_scope("call", "7"))


@pytest.mark.parametrize("mangle", ["flip", "truncate", "garbage", "empty", "huge"])
async def test_a_tampered_link_fails_as_tampered(embeds: EmbedLinks, mangle: str) -> None:
    token = (await embeds.mint("call", "CA1", 600, "ada")).token
    bad = {
        "flip": token[:-2] + ("AA" if token[-2:] != "AA" else "BB"),
        "truncate": token[:-5],
        "garbage": "not.a.token",
        "empty": "",
        "huge": token * 20,
    }[mangle]
    with pytest.raises(EmbedLinkTampered) as caught:
        await embeds.verify(bad, embed_scope("call", "CA1"))
    assert caught.value.reason == "tampered"


async def test_a_link_signed_with_another_secret_is_tampered(store_db: Store, clock: Clock) -> None:
    other = links_of(store_db, clock, secret="another-secret-0123456789abcdef-0123456")
    token = (await other.mint("call", "CA1", 600, "ada")).token
    with pytest.raises(EmbedLinkTampered):
        await links_of(store_db, clock).verify(token, embed_scope("call", "CA1"))


def test_every_failure_is_an_embed_link_error() -> None:
    for kind in (EmbedLinkExpired, EmbedLinkTampered, EmbedLinkWrongScope):
        assert issubclass(kind, EmbedLinkError)
    assert issubclass(EmbedLinkWrongInstance, EmbedLinkError)
    assert issubclass(EmbedLinkRevoked, EmbedLinkError)


async def test_a_minted_link_builds_the_embed_path_with_its_token(embeds: EmbedLinks) -> None:
    made = await embeds.mint("call", "CA9", 600, "ada")
    assert made.path.startswith("/embed/calls/CA9?token=")
    token = parse_qs(urlsplit(made.path).query)["token"][0]
    assert await embeds.is_valid(token, embed_scope("call", "CA9"))
    full = (await embeds.mint("campaign", 4, 600, "ada")).url("https://live.example.com/")
    assert full.startswith("https://live.example.com/embed/campaigns/4?token=")
    with pytest.raises(ValueError, match="http"):
        made.url("javascript:alert(1)")


async def test_minting_refuses_bad_ids_and_lifetimes_and_keeps_nothing(embeds: EmbedLinks) -> None:
    with pytest.raises(ValueError, match="call id"):
        await embeds.mint("call", "../etc", 600, "ada")
    with pytest.raises(ValueError, match="campaign id"):
        await embeds.mint("campaign", "-1", 600, "ada")
    with pytest.raises(ValueError, match="lifetime"):
        await embeds.mint("call", "CA1", 0, "ada")
    with pytest.raises(ValueError, match="lifetime"):
        await embeds.mint("call", "CA1", MAX_TTL_SECONDS + 1, "ada")
    assert await embeds.list() == []


async def test_the_store_keeps_records_not_tokens(store_db: Store, embeds: EmbedLinks) -> None:
    made = await embeds.mint("call", "CA1", 600, "ada")
    text = repr(await store_db.embeds.all())
    assert made.record.id in text and made.token not in text
    assert made.token.split(".")[-1] not in text  # not even the signature
    [listed] = await embeds.list()
    assert (listed.id, listed.scope, listed.created_by, listed.instance) == (
        made.record.id,
        "call:CA1",
        "ada",
        "live",
    )


async def test_active_links_are_capped_and_old_ones_drop_off(
    embeds: EmbedLinks, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("webapp.access.embedstore.MAX_ACTIVE", 3)
    for _ in range(3):
        await embeds.mint("call", "CA1", 60, "ada")
    with pytest.raises(EmbedStoreError, match="revoke some"):
        await embeds.mint("call", "CA1", 60, "ada")
    clock.now += 61  # expired: they no longer count against the cap
    await embeds.mint("call", "CA1", 60, "ada")
    clock.now += 8 * 86_400  # expired a week ago: no longer listed
    await embeds.mint("call", "CA1", 60, "ada")
    assert len(await embeds.list()) == 1
    assert MAX_ACTIVE >= 100


async def test_revoking_an_unknown_link_is_an_error(embeds: EmbedLinks) -> None:
    with pytest.raises(EmbedStoreError, match="no embed link"):
        await embeds.revoke("nope", "ada")


def test_a_short_secret_is_refused_and_no_secret_shows_in_repr(store_db: Store) -> None:
    with pytest.raises(ValueError, match="at least 32"):
        EmbedSigner("short")
    assert SECRET not in repr(EmbedSigner(SECRET))
    assert SECRET not in repr(EmbedLinks(EmbedSigner(SECRET), StoredEmbedLinks(store_db)))


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


async def test_concurrent_makers_and_revokers_on_one_database_lose_nothing(
    store_db: Store, clock: Clock
) -> None:
    """Nodes and the CLI write one database at once: every link made is kept, every
    revocation holds."""
    first = await links_of(store_db, clock).mint("call", "CA0", 600, "ada")

    async def work(n: int) -> list[str]:
        mine = links_of(store_db, clock)  # parts of their own, as another node has
        made = [
            (await mine.mint("call", f"CA{n}x{k}", 600, f"maker-{n}")).record.id for k in range(8)
        ]
        await mine.revoke(made[0], f"maker-{n}")
        if n == 0:
            await mine.revoke(first.record.id, "maker-0")
        return made

    made = [link for batch in await asyncio.gather(*map(work, range(6))) for link in batch]
    records = {r.id: r for r in await links_of(store_db, clock).list()}
    assert set(made) | {first.record.id} == set(records)
    revoked = {r.id for r in records.values() if r.revoked_at is not None}
    assert revoked == {first.record.id} | set(made[::8])
    assert not await links_of(store_db, clock).is_valid(first.token, embed_scope("call", "CA0"))
