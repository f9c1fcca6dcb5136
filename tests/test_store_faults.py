"""The database away: at start-up the process stops with one line; while running, live
viewing goes on, sign-in answers 503 with a clear page, /readyz says the database is down,
and the audit entries of the meantime are written once it is back. A real PostgreSQL of
the test's own, stopped (fast shutdown) under a running node."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.live import LiveApp, Viewer, is_event, running_app
from tests.postgres import postgres_server
from tests.redisserver import free_port
from tests.test_sessions_end import PASSWORD, signed_in
from webapp.access.users import Role
from webapp.simulator import Simulator

BINARY = str(Path(sys.executable).parent / "burki-dashboard")


def start_with(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``burki-dashboard run`` with ``env`` (its own var folder); what it said, once it ended."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BURKI_", "DASHBOARD_"))}
    clean.pop("DATABASE_URL", None)
    base = {
        "DASHBOARD_PORT": str(free_port()),
        "DASHBOARD_USERS_FILE": str(tmp_path / "var" / "users.toml"),
        "DASHBOARD_TOKENS_FILE": str(tmp_path / "var" / "tokens.toml"),
        "DASHBOARD_AUDIT_FILE": str(tmp_path / "var" / "audit.jsonl"),
        "DASHBOARD_DATABASE_FILE": str(tmp_path / "var" / "store.sqlite3"),
        "BURKI_API_KEY": "sk-test-not-used",
        "BURKI_BASE_URL": "http://127.0.0.1:9",
        "BURKI_ALLOW_INSECURE": "true",
    }
    return subprocess.run(
        [BINARY, "run"], env=clean | base | env, capture_output=True, text=True, timeout=60
    )


def test_a_database_unreachable_at_start_up_stops_the_process_with_one_line(
    tmp_path: Path,
) -> None:
    url = f"postgresql://burki:pw-5r6t@127.0.0.1:{free_port()}/burki"
    ended = start_with({"DATABASE_URL": url, "DATABASE_TIMEOUT": "2"}, tmp_path)
    assert ended.returncode == 2
    assert ended.stderr.count("\n") == 1, ended.stderr
    assert ended.stderr.startswith("burki-dashboard: the database postgresql")
    assert "unreachable" in ended.stderr and "pw-5r6t" not in ended.stderr + ended.stdout


def test_old_files_and_an_empty_database_say_in_one_line_what_to_run(tmp_path: Path) -> None:
    users = tmp_path / "var" / "users.toml"
    users.parent.mkdir()
    users.write_text(
        '[users.ada]\nrole = "admin"\npassword_hash = "$argon2id$v=19$m=8,t=1,p=1$x$y"\n'
        "created_at = 2026-01-01T00:00:00Z\n"
    )
    ended = start_with({}, tmp_path)
    assert ended.returncode == 2
    assert ended.stderr.count("\n") == 1, ended.stderr
    assert "run `burki-dashboard migrate-files`" in ended.stderr and str(users) in ended.stderr


async def sign_in_status(live: LiveApp) -> tuple[int, str]:
    async with httpx.AsyncClient(timeout=30) as client:
        form = await client.get(f"{live.url}/signin")
        csrf = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        data = {"name": "ada", "password": PASSWORD, "csrf": csrf, "next": "/"}
        answer = await client.post(f"{live.url}/signin", data=data)
        return answer.status_code, answer.text


async def ready(live: LiveApp) -> tuple[int, dict[str, object]]:
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(f"{live.url}/readyz")
        return answer.status_code, answer.json()


async def test_with_the_database_stopped_viewing_goes_on_and_sign_in_answers_503(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    with postgres_server() as database:
        settings = {"database_url": database.new_database(), "database_timeout": 2.0}
        async with running_app(sim, **settings) as live:
            await live.state.access.users.add("ada", PASSWORD, Role.SUPERVISOR)
            token = await live.token(Role.SUPERVISOR)
            async with signed_in(live) as browser, httpx.AsyncClient(timeout=30) as bot:
                bot.headers["Authorization"] = f"Bearer {token}"
                watching = Viewer(live.url, f"/api/calls/{sid}/events").start(browser)
                await watching.wait_for(is_event("status", state="live"))
                assert (await bot.get(f"{live.url}/api/calls/{sid}/transcript")).status_code == 200
                assert await ready(live) == (200, {"status": "ready"})

                database.stop()

                sim.add_segment(sid, "user", "said while the database was away")
                await watching.wait_for(lambda e: "while the database was away" in e.data)
                late = Viewer(live.url, f"/api/calls/{sid}/events").start(browser)
                await late.wait_for(lambda e: "while the database was away" in e.data)
                by_token = Viewer(live.url, f"/api/calls/{sid}/events").start(bot)
                await by_token.wait_for(lambda e: "while the database was away" in e.data)
                status, page = await sign_in_status(live)
                assert status == 503 and "cannot reach its database" in page
                assert await ready(live) == (200, {"status": "degraded", "down": ["database"]})
                page = await browser.get(f"{live.url}/calls/{sid}")
                assert page.status_code == 200  # pages that need no database still open
                async with live.client(Role.ADMIN) as admin:
                    listing = await admin.get(f"{live.url}/admin")
                    assert listing.status_code == 503
                    assert "database is unreachable" in listing.text
                    assert "postgresql" not in listing.text  # where it is stays in the log

                database.start()

                assert await ready(live) == (200, {"status": "ready"})
                assert (await sign_in_status(live))[0] == 303
                for viewer in (watching, late, by_token):
                    await viewer.stop()
            whats = [(e.who, e.what) for e in await live.state.access.audit.entries(None)]
            assert ("ada", "sign-in failed") not in whats
            assert whats.count(("ada", "signed in")) == 2  # the one refused was never counted


async def test_audit_entries_of_the_meantime_are_written_when_the_database_is_back(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    with postgres_server() as database:
        settings = {"database_url": database.new_database(), "database_timeout": 2.0}
        async with running_app(sim, **settings) as live, live.client(Role.SUPERVISOR) as client:
            database.stop()
            answer = await client.get(f"{live.url}/calls/{sid}")
            assert answer.status_code == 200
            assert live.state.access.audit.pending >= 1
            database.start()
            entries = await live.state.access.audit.entries(None)  # a read writes what waits
            assert [e.who for e in entries if e.what == f"call:{sid}"] == ["test-supervisor"]
            assert live.state.access.audit.pending == 0
