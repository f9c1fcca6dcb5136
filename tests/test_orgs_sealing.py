"""Keys at rest: what the master key seals opens only with it and only for its own
organisation, rotates without a gap, and never shows a key in a repr or an error."""

from __future__ import annotations

import logging
import re

import pytest
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import strategies as st

from webapp.orgs.book import Opened, OrgBook, checked_key
from webapp.orgs.model import Org, OrgError
from webapp.orgs.sealing import MasterKey, MasterKeyError, fingerprint, masked
from webapp.settings import SettingsError, load_settings
from webapp.store.orgs import OrgRow
from webapp.store.store import Store

KEY = "bk-live-5e1f0a9c7d3b2e4f6a8c"
OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_a_sealed_key_opens_with_the_master_key_and_for_its_own_organisation_only() -> None:
    master = MasterKey([OLD])
    sealed = master.seal("acme", KEY)
    assert KEY not in sealed and master.open("acme", sealed) == KEY
    with pytest.raises(MasterKeyError, match="is not its own") as copied:
        master.open("globex", sealed)  # acme's row copied into globex's
    with pytest.raises(MasterKeyError, match="does not open") as wrong:
        MasterKey([NEW]).open("acme", sealed)
    for error in (copied.value, wrong.value):
        assert KEY not in str(error) and OLD not in str(error) and sealed not in str(error)


def test_the_newest_master_key_seals_any_opens_and_a_rewrap_needs_only_the_newest() -> None:
    sealed_old = MasterKey([OLD]).seal("acme", KEY)
    both = MasterKey([NEW, OLD])  # step 1: the new key first, the old one still there
    assert both.open("acme", sealed_old) == KEY
    rewrapped = both.rewrap("acme", sealed_old)  # step 2: org rewrap
    assert MasterKey([NEW]).open("acme", rewrapped) == KEY  # step 3: the old one dropped
    with pytest.raises(MasterKeyError):
        MasterKey([OLD]).open("acme", rewrapped)


@given(st.text(min_size=1, max_size=80))
def test_a_malformed_master_key_is_named_by_its_place_never_shown(text: str) -> None:
    try:
        MasterKey.from_text(text)
    except MasterKeyError as exc:
        shown = str(exc)
        for part in text.split(","):
            if len(part.strip()) >= 6:
                assert part.strip() not in shown


def test_a_bad_master_key_setting_stops_start_up_with_one_line_without_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bad = "x" * 43 + "!"
    monkeypatch.setenv("BURKI_MASTER_KEY", f"{OLD},{bad}")
    with pytest.raises(SettingsError) as stopped:
        load_settings()
    assert str(stopped.value) == (
        "BURKI_MASTER_KEY: key 2 of 2 is not a Fernet key (44 characters of URL-safe base64)"
    )
    assert OLD not in str(stopped.value) and bad not in str(stopped.value)


def test_no_repr_shows_a_key_or_the_master_key() -> None:
    master = MasterKey([NEW, OLD])
    sealed = master.seal("acme", KEY)
    shown = " ".join(
        repr(thing)
        for thing in (
            master,
            OrgRow("acme", "Acme", "https://a.example", sealed),
            Opened(Org("acme", "Acme", "https://a.example"), KEY),
            load_settings(burki_master_key=NEW),
        )
    )
    for secret in (KEY, sealed, NEW, OLD):
        assert secret not in shown
    assert re.search(r"newest fp:[0-9a-f]{12}", repr(master))


def test_a_key_is_confirmed_by_its_last_four_characters_and_listed_by_a_fingerprint() -> None:
    assert masked(KEY) == "…" + KEY[-4:]
    assert masked("short") == "…****"  # too short to show any of it
    assert fingerprint(KEY) == fingerprint(KEY) != fingerprint(KEY + "x")
    assert KEY[-4:] not in fingerprint(KEY)
    for bad in ("", "two words", "tab\tkey", "x" * 1025, "ünïcode"):
        with pytest.raises(OrgError):
            checked_key(bad)
    assert checked_key(f"  {KEY}\n") == KEY


async def test_a_key_that_does_not_open_leaves_its_organisation_out_and_says_why(
    store_db: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await OrgBook(store_db.orgs, MasterKey([OLD])).add("acme", "Acme", "https://a.example", KEY)
    await OrgBook(store_db.orgs, MasterKey([NEW])).add("globex", "G", "https://g.example", KEY)
    opened, refused = await OrgBook(store_db.orgs, MasterKey([NEW])).opened()
    assert [o.org.slug for o in opened] == ["globex"]
    assert list(refused) == ["acme"] and "does not open" in refused["acme"]
    assert KEY not in caplog.text and KEY not in str(refused)
