"""The admin page's Organisations over a real server: an admin adds, re-keys and removes an
organisation and this node serves the change before the page answers; the key goes in
through a password field and never comes back (not in a page, a log line or the database
file); CSRF, admin only, and every step audited."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.conftest import SIM_KEY
from tests.live import csrf_of, running_app
from webapp.access.users import Role
from webapp.simulator import Simulator
from webapp.wire.streamkey import StreamKey

MASTER = Fernet.generate_key().decode()
ACME_KEY, ACME_NEW_KEY = "acme-key-0d9c8b7a6f5e", "acme-key-rotated-1f2e3d4c"


def stored_bytes(folder: Path) -> bytes:
    """The SQLite file and its write-ahead log, as a stolen copy would hold them."""
    return b"".join(p.read_bytes() for p in folder.glob("store.sqlite3*"))


async def post(client: httpx.AsyncClient, base: str, path: str, **form: str) -> httpx.Response:
    return await client.post(
        base + path, data=form | {"csrf": await csrf_of(client, base + "/admin")}
    )


async def test_an_admin_adds_re_keys_and_removes_an_organisation_and_never_sees_its_key_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    keys = {"default": SIM_KEY, "acme": ACME_KEY}
    database = tmp_path / "store.sqlite3"
    async with Simulator(orgs=keys, autoplay=False) as burki:
        call = burki.org("acme").add_call()
        overrides = {"database_url": f"sqlite:///{database}", "burki_master_key": MASTER}
        async with running_app(burki, **overrides) as live, live.client() as admin:
            added = await post(
                admin, live.url, "/admin/orgs",
                slug="acme", name="Acme Support", url=burki.base_url, key=ACME_KEY,
            )  # fmt: skip
            assert added.status_code == 200
            assert f"key …{ACME_KEY[-4:]}" in added.text and ACME_KEY not in added.text
            assert 'type="password" name="key"' in added.text
            assert "acme" in live.state.tenants  # served before the page answered
            with live.hub.watch([StreamKey("call", call, "acme")], {}):
                await burki.org("acme").wait_for_connections(f"call:{call}", 1, timeout=10)
            page = (await admin.get(live.url + "/admin")).text
            assert 'id="org-acme"' in page and "fp:" in page
            assert ACME_KEY not in page and ACME_KEY[-4:] not in page  # once, then never

            rotated = await post(
                admin, live.url, "/admin/orgs/rotate-key", slug="acme", key=ACME_NEW_KEY
            )
            assert rotated.status_code == 200 and ACME_NEW_KEY not in rotated.text
            assert ACME_NEW_KEY[-4:] in rotated.text

            removed = await post(admin, live.url, "/admin/orgs/remove", slug="acme")
            assert removed.status_code == 200 and "acme" not in live.state.tenants
            audit = (await admin.get(live.url + "/admin/audit.csv")).text
        for done in ("organisation acme added", "key rotated", "organisation acme removed"):
            assert done in audit
    stored = stored_bytes(tmp_path)
    for key in (ACME_KEY, ACME_NEW_KEY):
        assert key.encode() not in stored
        assert key not in caplog.text and key not in audit


async def test_only_an_admin_with_the_form_s_csrf_token_changes_organisations(
    tmp_path: Path, sim: Simulator
) -> None:
    overrides = {"database_url": f"sqlite:///{tmp_path / 's.sqlite3'}", "burki_master_key": MASTER}
    form = {"slug": "acme", "name": "Acme", "url": sim.base_url, "key": ACME_KEY}
    async with running_app(sim, **overrides) as live:
        async with live.client(Role.SUPERVISOR) as supervisor:
            refused = await supervisor.post(live.url + "/admin/orgs", data=form)
            assert refused.status_code == 403
        async with live.client() as admin:
            forged = await admin.post(live.url + "/admin/orgs", data=form | {"csrf": "x"})
            assert forged.status_code == 403
        assert "acme" not in live.state.tenants
        assert await live.state.access.store.orgs.all() == []


async def test_a_bad_form_says_why_keeps_what_was_typed_but_never_the_key(
    tmp_path: Path, sim: Simulator
) -> None:
    overrides = {"database_url": f"sqlite:///{tmp_path / 's.sqlite3'}", "burki_master_key": MASTER}
    async with running_app(sim, **overrides) as live, live.client() as admin:
        bad = await post(
            admin, live.url, "/admin/orgs",
            slug="Not A Slug", name="Acme", url=sim.base_url, key=ACME_KEY,
        )  # fmt: skip
        assert bad.status_code == 400 and "lower-case" in bad.text
        assert 'value="Not A Slug"' in bad.text and ACME_KEY not in bad.text
        audit = (await admin.get(live.url + "/admin/audit.csv")).text
        assert "organisation add refused" in audit and ACME_KEY not in audit
