from __future__ import annotations

import argparse
import asyncio
import csv
import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr
from sqlalchemy.engine import URL

from tests.redisserver import free_port
from webapp.access.admincli import (
    ADMIN_COMMANDS,
    Console,
    add_admin_commands,
    parse_since,
    run_admin_command,
)
from webapp.access.audit import AuditLog
from webapp.access.embedlinks import EmbedLinks, EmbedScope, EmbedSigner, embed_scope
from webapp.access.embedstore import StoredEmbedLinks
from webapp.access.tokens import TokenStore
from webapp.access.users import Role, UserStore
from webapp.store.database import database_url, sqlite_url
from webapp.store.store import Store, open_store

T = TypeVar("T")

SECRET = "session-secret-0123456789abcdef-0123456789"
PASSWORD = "a long enough password"


@dataclass
class FakeSettings:
    """Stands in for webapp.settings.Settings (checked against AdminSettings by mypy)."""

    store_url: URL
    database_timeout: float = 5.0
    dashboard_audit_retention_days: int = 30
    dashboard_session_secret: SecretStr | None = field(default_factory=lambda: SecretStr(SECRET))
    demo: bool = False


KNOWN = {embed_scope("call", "CA42"), embed_scope("campaign", 12), embed_scope("call", "CA1")}


async def burki(scope: EmbedScope) -> bool:
    """What Burki knows, as the CLI's REST lookup answers (tests/test_cli.py asks a real one)."""
    return scope in KNOWN


def inside(settings: FakeSettings, work: Callable[[Store], Awaitable[T]]) -> T:
    """``work`` done on the store the commands use (as another process would)."""

    async def go() -> T:
        store = await open_store(settings.store_url)
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(go())


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@dataclass
class Run:
    status: int
    out: str
    err: str
    asked: list[str]


@pytest.fixture
def settings(tmp_path: Path) -> FakeSettings:
    return FakeSettings(sqlite_url(tmp_path / "store.sqlite3"))


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="burki-dashboard")
    add_admin_commands(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def run(
    settings: FakeSettings, *argv: str, stdin: str = "", answers: list[str] | None = None
) -> Run:
    asked: list[str] = []
    replies = iter(answers or [])

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return next(replies)

    out, err = io.StringIO(), io.StringIO()
    source = TTY(stdin) if answers is not None else io.StringIO(stdin)
    lookup = None if settings.demo else burki
    status = run_admin_command(parse(list(argv)), settings, Console(source, out, err, ask), lookup)
    return Run(status, out.getvalue(), err.getvalue(), asked)


def test_the_admin_command_names_are_the_top_level_ones_added() -> None:
    assert {"user", "token", "embed-link", "audit"} == ADMIN_COMMANDS


def test_user_add_from_stdin_then_sign_in_and_list(settings: FakeSettings) -> None:
    result = run(
        settings,
        "user",
        "add",
        "Alice",
        "--role",
        "admin",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert result.status == 0 and result.out == "added user alice (admin)\n"
    assert inside(settings, lambda db: UserStore(db).verify("alice", PASSWORD)) is not None
    listing = run(settings, "user", "list")
    assert listing.out.splitlines()[0].split() == ["NAME", "ROLE", "CREATED"]
    assert listing.out.splitlines()[1].split()[:2] == ["alice", "admin"]
    assert "$argon2" not in listing.out and PASSWORD not in listing.out


def test_user_add_on_a_terminal_asks_twice(settings: FakeSettings) -> None:
    result = run(settings, "user", "add", "bob", "--role", "manager", answers=[PASSWORD, PASSWORD])
    assert result.status == 0 and len(result.asked) == 2
    assert inside(settings, lambda db: UserStore(db).verify("bob", PASSWORD)) is not None


def test_two_different_passwords_add_nobody(settings: FakeSettings) -> None:
    result = run(
        settings, "user", "add", "bob", "--role", "manager", answers=[PASSWORD, PASSWORD + "x"]
    )
    assert result.status == 2
    assert result.err == "burki-dashboard: error: the two passwords differ\n"
    assert inside(settings, lambda db: UserStore(db).list()) == []


def test_without_a_terminal_the_password_must_come_with_password_stdin(
    settings: FakeSettings,
) -> None:
    result = run(settings, "user", "add", "bob", "--role", "manager", stdin=PASSWORD)
    assert result.status == 2 and "use --password-stdin" in result.err


def test_a_short_password_is_one_line_on_stderr_without_the_password(
    settings: FakeSettings,
) -> None:
    result = run(
        settings, "user", "add", "bob", "--role", "manager", "--password-stdin", stdin="hunter2\n"
    )
    assert result.status == 2
    assert result.err.count("\n") == 1 and "at least 12" in result.err
    assert "hunter2" not in result.err + result.out


def test_passwd_and_remove(settings: FakeSettings) -> None:
    run(settings, "user", "add", "bob", "--role", "manager", "--password-stdin", stdin=PASSWORD)
    changed = run(
        settings, "user", "passwd", "bob", "--password-stdin", stdin="the new password!\n"
    )
    assert changed.status == 0
    assert inside(settings, lambda db: UserStore(db).verify("bob", "the new password!")) is not None
    assert run(settings, "user", "remove", "bob").status == 0
    assert inside(settings, lambda db: UserStore(db).list()) == []
    assert run(settings, "user", "list").err == "burki-dashboard: no users\n"


def test_passwd_for_an_unknown_user_fails_before_asking(settings: FakeSettings) -> None:
    result = run(settings, "user", "passwd", "ghost", answers=[])
    assert result.status == 2 and result.asked == []
    assert result.err == "burki-dashboard: error: no user 'ghost'\n"


def test_token_create_prints_the_token_once_with_a_warning(settings: FakeSettings) -> None:
    created = run(settings, "token", "create", "--name", "ci", "--role", "supervisor")
    assert created.status == 0
    token = created.out.strip()
    assert "shown once" in created.err and token not in created.err
    info = inside(settings, lambda db: TokenStore(db).verify(token))
    assert info is not None and info.role is Role.SUPERVISOR
    listing = run(settings, "token", "list")
    assert token not in listing.out
    assert listing.out.splitlines()[1].split() == [
        "ci",
        "supervisor",
        *listing.out.splitlines()[1].split()[2:],
    ]
    assert listing.out.rstrip().endswith("active")
    assert run(settings, "token", "revoke", "ci").out == "revoked token ci\n"
    assert inside(settings, lambda db: TokenStore(db).verify(token)) is None
    assert run(settings, "token", "list").out.rstrip().endswith("revoked")


def test_a_duplicate_token_name_fails_with_exit_2(settings: FakeSettings) -> None:
    run(settings, "token", "create", "--name", "ci", "--role", "admin")
    again = run(settings, "token", "create", "--name", "ci", "--role", "admin")
    assert again.status == 2 and again.out == "" and "taken" in again.err


def links(db: Store) -> EmbedLinks:
    return EmbedLinks(EmbedSigner(SECRET), StoredEmbedLinks(db))


def test_embed_link_prints_a_scoped_link_signed_with_the_session_secret(
    settings: FakeSettings,
) -> None:
    result = run(
        settings, "embed-link", "call", "CA42", "--ttl", "8h", "--base-url", "https://live.corp"
    )
    assert result.status == 0
    link = result.out.strip()
    assert link.startswith("https://live.corp/embed/calls/CA42?token=")
    token = parse_qs(urlsplit(link).query)["token"][0]
    grant = inside(settings, lambda db: links(db).verify(token, embed_scope("call", "CA42")))
    remaining = grant.expires_at - datetime.now(UTC)
    assert timedelta(hours=7, minutes=59) < remaining <= timedelta(hours=8)
    assert not inside(settings, lambda db: links(db).is_valid(token, embed_scope("call", "CA43")))
    assert "expires" in result.err and grant.link_id in result.err
    assert SECRET not in result.out + result.err


def test_embed_link_for_a_campaign_defaults_to_a_path(settings: FakeSettings) -> None:
    result = run(settings, "embed-link", "campaign", "12")
    assert result.status == 0 and result.out.startswith("/embed/campaigns/12?token=")


def test_embed_links_are_listed_and_revoked_and_each_step_is_audited(
    settings: FakeSettings,
) -> None:
    made = run(settings, "embed-link", "wallboard", "--ttl", "1h")
    assert made.status == 0 and made.out.startswith("/embed/wallboard?token=")
    token = parse_qs(urlsplit(made.out.strip()).query)["token"][0]
    [record] = inside(settings, lambda db: links(db).list())
    listing = run(settings, "embed-link", "list").out.splitlines()
    assert listing[0].split() == ["ID", "ORG", "OPENS", "MADE", "BY", "EXPIRES", "STATE"]
    assert listing[1].split()[:3] == [record.id, "default", "wallboard"]
    assert listing[1].endswith("active")
    revoked = run(settings, "embed-link", "revoke", record.id)
    assert revoked.status == 0
    assert revoked.out == f"revoked embed link {record.id} of default (wallboard)\n"
    assert not inside(settings, lambda db: links(db).is_valid(token, embed_scope("wallboard")))
    assert run(settings, "embed-link", "list").out.splitlines()[1].endswith("revoked")
    audit = inside(settings, lambda db: AuditLog(db, 30).entries())
    assert [(e.via, e.what) for e in audit] == [
        ("cli", f"embed link {record.id} revoked (wallboard)"),
        ("cli", f"embed link {record.id} made for wallboard"),
    ]
    assert run(settings, "embed-link", "revoke", "nope").status == 2


def test_embed_link_refuses_ids_burki_does_not_know_and_keeps_nothing(
    settings: FakeSettings,
) -> None:
    result = run(settings, "embed-link", "campaign", "13")
    assert result.status == 2 and result.out == ""
    assert "Burki has no campaign 13: no link was made" in result.err
    assert inside(settings, lambda db: links(db).list()) == []


def test_embed_link_in_demo_mode_points_to_the_admin_page(settings: FakeSettings) -> None:
    settings.demo = True
    result = run(settings, "embed-link", "call", "CA42")
    assert result.status == 2 and "admin page" in result.err
    assert run(settings, "embed-link", "wallboard").status == 0  # nothing to look up


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["embed-link", "call", "CA1", "--ttl", "forever"], "a lifetime looks like"),
        (["embed-link", "call", "CA1", "--ttl", "90d"], "between 1 second and 30 days"),
        (["embed-link", "call", "bad/sid"], "a call id is"),
        (["embed-link", "campaign", "x"], "a campaign id is"),
    ],
)
def test_embed_link_errors_are_one_line(
    settings: FakeSettings, argv: list[str], message: str
) -> None:
    result = run(settings, *argv)
    assert result.status == 2 and result.out == ""
    assert message in result.err and result.err.count("\n") == 1


def test_embed_link_needs_the_session_secret(settings: FakeSettings) -> None:
    settings.dashboard_session_secret = None
    result = run(settings, "embed-link", "call", "CA1")
    assert result.status == 2 and "DASHBOARD_SESSION_SECRET is not set" in result.err


def test_audit_export_writes_csv_newest_first_and_since(settings: FakeSettings) -> None:
    async def record(db: Store) -> None:
        log = AuditLog(db, 30)
        await log.record("alice", "page", "call:CA1", "/calls/CA1", "10.0.0.1")
        await log.record("=cmd", "token", "campaign:2", "/api/campaigns/2/events", "10.0.0.2")

    inside(settings, record)
    result = run(settings, "audit", "export")
    rows = list(csv.reader(io.StringIO(result.out)))
    assert result.status == 0 and rows[0][0] == "at" and len(rows) == 3
    assert {rows[1][1], rows[2][1]} == {"alice", "'=cmd"}
    future = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert (
        len(list(csv.reader(io.StringIO(run(settings, "audit", "export", "--since", future).out))))
        == 1
    )
    assert (
        len(list(csv.reader(io.StringIO(run(settings, "audit", "export", "--since", "1h").out))))
        == 3
    )
    assert run(settings, "audit", "export", "--since", "yesterday").status == 2


def test_audit_prune_reports_what_went(settings: FakeSettings) -> None:
    inside(
        settings,
        lambda db: AuditLog(db, 30).record("alice", "page", "call:CA1", "/calls/CA1", "::1"),
    )
    assert run(settings, "audit", "prune").out == "removed 0 entries older than 30 days\n"


def test_an_unreachable_database_is_one_line(settings: FakeSettings) -> None:
    settings.store_url = database_url(f"postgresql://u:pw-7q@127.0.0.1:{free_port()}/db")
    settings.database_timeout = 2.0
    result = run(settings, "token", "create", "--name", "ci", "--role", "admin")
    assert result.status == 2 and result.err.count("\n") == 1
    assert result.err.startswith("burki-dashboard: error: the database ")
    assert "unreachable" in result.err and "pw-7q" not in result.err


def test_parse_since_reads_dates_times_and_ages() -> None:
    now = datetime(2025, 3, 8, 12, 0, tzinfo=UTC)
    assert parse_since("7d", now) == datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert parse_since("2025-03-01") == datetime(2025, 3, 1, tzinfo=UTC)
    assert parse_since("2025-03-01T08:00+01:00") == datetime(2025, 3, 1, 7, 0, tzinfo=UTC)
