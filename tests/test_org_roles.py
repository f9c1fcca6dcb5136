"""Roles per organisation: the rule (a role in one wins there over the role everywhere), the
store's rows, the CLI, the SSO roles file, and the organisation of tokens and embed links."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.live import running_app
from tests.test_admincli import FakeSettings, inside, run
from tests.test_users import cheap_hasher
from webapp.access.audit import AuditLog
from webapp.access.auth import Principal
from webapp.access.embedlinks import EmbedLinkWrongScope, EmbedSigner, embed_scope
from webapp.access.routes import OrgNeed, orgs_in_query, split_org
from webapp.access.tokens import TokenError, TokenStore
from webapp.access.users import Role, Roles, UserError, UserStore
from webapp.access.wiring import roles_in_file, sso_roles
from webapp.simulator import Simulator
from webapp.store.database import sqlite_url
from webapp.store.store import Store

SECRET = "s" * 40


@pytest.fixture
def cli(tmp_path: Path) -> FakeSettings:
    return FakeSettings(sqlite_url(tmp_path / "store.sqlite3"))


PASSWORD = "correct horse battery staple"


def test_a_role_in_one_organisation_wins_there_over_the_role_everywhere() -> None:
    roles = Roles.of(Role.ADMIN, {"acme": Role.SUPERVISOR})
    assert roles.role_in("acme") is Role.SUPERVISOR and roles.role_in("globex") is Role.ADMIN
    only = Roles.of(None, {"acme": Role.MANAGER})
    assert only.role_in("acme") is Role.MANAGER and only.role_in("default") is None
    token = Roles.one_org("acme", Role.ADMIN)
    assert token.role_in("acme") is Role.ADMIN and token.role_in("globex") is None
    assert str(roles) == "admin; supervisor in acme" and str(Roles()) == "none"


def test_what_a_principal_may_depends_on_the_organisation() -> None:
    bob = Principal("bob", Roles.of(None, {"acme": Role.ADMIN}), "page")
    assert bob.may("call", "acme") and bob.may("both", "acme")
    assert not bob.may("call", "default") and not bob.may("call", "globex")
    assert not bob.may("admin", "acme")  # the admin pages span every organisation
    assert bob.within("acme").role is Role.ADMIN and bob.role is None
    root = Principal("root", Roles(Role.ADMIN), "page")
    assert root.may("admin") and root.may("call", "anything")
    bot = Principal("token:x", Roles.one_org("default", Role.ADMIN), "token")
    assert bot.may("admin", "default") and not bot.may("call", "acme")


def test_the_multiplexed_api_names_every_organisation_its_values_name() -> None:
    needs = orgs_in_query({}, "call=CA1&call=acme/CA2&campaign=acme/7&campaign=3")
    assert sorted(needs, key=lambda n: n.org) == [
        OrgNeed("acme", "both", True),
        OrgNeed("default", "both", False),
    ]
    under = orgs_in_query({"org": "acme"}, "call=CA1&call=globex/CA2")
    assert sorted(under, key=lambda n: n.org) == [
        OrgNeed("acme", "call", True),
        OrgNeed("globex", "call", True),
    ]
    assert orgs_in_query({}, "call=../CA1")[1] == OrgNeed("..", "call", True)
    assert split_org("/o/acme/api/events") == ("acme", "/api/events")
    assert split_org("/api/events") == (None, "/api/events")


async def test_grants_are_rows_of_their_own_read_with_the_user(store_db: Store) -> None:
    users = UserStore(store_db, cheap_hasher())
    await users.add("bob", PASSWORD, Role.SUPERVISOR, "acme")
    bob = await users.get("bob")
    assert bob is not None and bob.role is None and bob.orgs == (("acme", Role.SUPERVISOR),)
    epoch = bob.session_epoch
    bob = await users.grant("bob", "globex", Role.MANAGER)
    bob = await users.grant("bob", "acme", Role.ADMIN)  # replaces the one it had there
    assert bob.orgs == (("acme", Role.ADMIN), ("globex", Role.MANAGER))
    assert bob.session_epoch == epoch  # sessions go on: every request reads the roles again
    bob = await users.revoke("bob", "acme")
    assert bob.roles.role_in("acme") is None and bob.roles.role_in("globex") is Role.MANAGER
    bob = await users.grant("bob", "*", Role.ADMIN)
    assert bob.role is Role.ADMIN and bob.session_epoch != epoch  # everywhere: a role change
    for bad in ["../x", "ACME", "", "a" * 40]:
        with pytest.raises(UserError):
            await users.grant("bob", bad, Role.ADMIN)
    with pytest.raises(UserError):
        await users.grant("nobody", "acme", Role.ADMIN)
    await users.remove("bob")
    await users.add("bob", PASSWORD, Role.MANAGER)
    assert (await users.get("bob")).orgs == ()  # type: ignore[union-attr]  # no stale grants


async def test_a_token_belongs_to_one_organisation(store_db: Store) -> None:
    tokens = TokenStore(store_db)
    token = await tokens.create("bot", Role.SUPERVISOR, "acme")
    info = await tokens.verify(token)
    assert info is not None and info.org == "acme"
    assert info.roles.role_in("acme") is Role.SUPERVISOR and info.roles.role_in("default") is None
    for bad in ["*", "../x", "Acme"]:
        with pytest.raises(TokenError):
            await tokens.create(f"bot{len(bad)}", Role.SUPERVISOR, bad)


def test_an_embed_link_names_its_organisation_and_opens_no_other() -> None:
    signer = EmbedSigner(SECRET)
    acme = embed_scope("call", "CA1", "acme")
    token = signer.sign("l1", acme, 2_000_000_000)
    assert signer.verify(token, acme).scope == acme
    with pytest.raises(EmbedLinkWrongScope):
        signer.verify(token, embed_scope("call", "CA1"))
    with pytest.raises(EmbedLinkWrongScope):
        signer.verify(token, embed_scope("call", "CA1", "globex"))
    old = signer.sign("l2", embed_scope("call", "CA1"), 2_000_000_000)  # as links were made
    assert signer.verify(old, embed_scope("call", "CA1")).link_id == "l2"
    with pytest.raises(EmbedLinkWrongScope):
        signer.verify(old, acme)
    assert acme.path == "/o/acme/embed/calls/CA1" and str(acme) == "acme/call:CA1"


def test_the_sso_roles_file_gives_roles_everywhere_and_per_organisation(tmp_path: Path) -> None:
    path = tmp_path / "roles.toml"
    path.write_text(
        '[roles]\nalice = "admin"\n\n[orgs.acme]\nbob = "supervisor"\nalice = "manager"\n'
        '[orgs.globex]\nbob = "manager"\n'
    )
    lookup = sso_roles(path)
    assert lookup is not None
    assert lookup("alice") == Roles.of(Role.ADMIN, {"acme": Role.MANAGER})
    assert lookup("bob") == Roles.of(None, {"acme": Role.SUPERVISOR, "globex": Role.MANAGER})
    assert lookup("mallory") is None
    assert roles_in_file({"orgs": {"acme": {"eve": "admin"}}}, "eve") == Roles.of(
        None, {"acme": Role.ADMIN}
    )
    path.write_text('[orgs."Bad Slug"]\neve = "admin"\n')
    assert lookup("eve") is None  # a bad entry grants nothing


async def test_an_sso_user_of_one_organisation_is_told_another_does_not_exist(
    sim: Simulator, tmp_path: Path
) -> None:
    sid = sim.add_call()
    roles = tmp_path / "roles.toml"
    roles.write_text('[orgs.default]\ngrace = "supervisor"\n[orgs.globex]\nheidi = "admin"\n')
    sso = {
        "dashboard_auth_mode": "sso",
        "dashboard_trusted_proxies": "127.0.0.1",
        "dashboard_sso_roles_file": roles,
    }
    async with running_app(sim, **sso) as live, httpx.AsyncClient() as client:
        grace = {"X-Forwarded-User": "grace"}
        heidi = {"X-Forwarded-User": "heidi"}
        assert (await client.get(f"{live.url}/calls/{sid}", headers=grace)).status_code == 200
        refused = await client.get(f"{live.url}/calls/{sid}", headers=heidi)
        assert refused.status_code == 404 and "No such organisation." in refused.text


def test_the_cli_adds_grants_and_revokes_roles_per_organisation(cli: FakeSettings) -> None:
    added = run(
        cli,
        *("user", "add", "bob", "--role", "supervisor", "--org", "acme", "--password-stdin"),
        stdin=PASSWORD + "\n",
    )
    assert added.status == 0 and added.out == "added user bob (supervisor in acme)\n"
    granted = run(cli, "user", "grant", "bob", "globex", "manager")
    assert granted.status == 0 and "supervisor in acme; manager in globex" in granted.out
    revoked = run(cli, "user", "revoke", "bob", "acme")
    assert revoked.status == 0 and "bob is now manager in globex" in revoked.out
    bad = run(cli, "user", "grant", "bob", "../etc", "admin")
    assert bad.status == 2 and "an organisation is 1 to 32" in bad.err
    listing = run(cli, "user", "list").out
    assert "manager in globex" in listing
    user = inside(cli, lambda db: UserStore(db).get("bob"))
    assert user is not None and user.roles.role_in("globex") is Role.MANAGER


def test_the_cli_makes_a_token_of_one_organisation(cli: FakeSettings) -> None:
    made = run(cli, "token", "create", "--name", "bot", "--role", "supervisor", "--org", "acme")
    assert made.status == 0 and made.out.startswith("bl_")
    listing = run(cli, "token", "list").out.splitlines()
    assert listing[0].split()[:3] == ["NAME", "ROLE", "ORG"] and listing[1].split()[:3] == [
        "bot",
        "supervisor",
        "acme",
    ]
    assert run(cli, "token", "create", "--name", "x", "--role", "admin", "--org", "*").status == 2


def test_the_audit_export_has_the_organisation_column(cli: FakeSettings) -> None:
    async def write(db: Store) -> None:
        log = AuditLog(db, 30, clock=lambda: datetime(2026, 12, 7, tzinfo=UTC))
        await log.record("ann", "page", "acme/call:CA1", "/o/acme/calls/CA1", "::1", org="acme")
        await log.close()

    inside(cli, write)
    exported = run(cli, "audit", "export").out.splitlines()
    assert exported[0].split(",")[-1] == "org" and exported[1].split(",")[-1] == "acme"
