"""The ``burki-dashboard`` command as a user runs it: a real process, real signals."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BURKI_", "DASHBOARD_"))}
    env.pop("DATABASE_URL", None)
    return env | extra


def test_demo_mode_serves_simulated_data_and_stops_cleanly_on_ctrl_c() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "webapp", "run"],
        env=environment(DASHBOARD_PORT=str(port), DEMO_SPEED="5"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert f"open http://127.0.0.1:{port}/signin/link?token=" in banner
        assert "demo" in banner
        link = banner.split("open ", 1)[1].strip()
        assert _get_when_up(f"http://127.0.0.1:{port}/").status_code == 303  # not open
        with httpx.Client(follow_redirects=True) as browser:
            page = browser.get(link)
            assert "Demo data" in page.text
            assert browser.get(link).status_code == 403  # the link works once
            # Two simulated organisations, each served with its own key, and the demo's
            # user (an admin) sees both.
            admin = browser.get(f"http://127.0.0.1:{port}/admin").text
            for slug, name in [("acme", "Acme Support"), ("globex", "Globex Sales")]:
                row = re.search(rf'<tr id="org-{slug}">(.*?)</tr>', admin)
                assert row and name in row[1] and "<td>yes</td>" in row[1] and "fp:" in row[1]
        assert Path("var/master.key").stat().st_mode & 0o077 == 0
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
    finally:
        process.kill()
        _, errors = process.communicate()
    assert "Traceback" not in errors


def _get_when_up(url: str, **kwargs: object) -> httpx.Response:
    # The banner is printed just before the port is bound: retry the first request briefly.
    for _ in range(100):
        try:
            return httpx.get(url, timeout=5, **kwargs)  # type: ignore[arg-type]
        except httpx.ConnectError:
            time.sleep(0.05)
    raise AssertionError(f"{url} never answered")


@pytest.mark.parametrize(
    ("name", "value"), [("BURKI_BASE_URL", "ftp://x"), ("DASHBOARD_PORT", "http")]
)
def test_a_bad_setting_stops_start_up_with_one_line(name: str, value: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "webapp", "run"],
        env=environment(**{name: value}),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"burki-dashboard: bad setting: {name}: ")


def test_admin_commands_manage_users_and_print_a_token_once(tmp_path: Path) -> None:
    database = tmp_path / "store.sqlite3"
    env = environment(DASHBOARD_DATABASE_FILE=str(database))
    run = [sys.executable, "-m", "webapp"]
    added = subprocess.run(
        [*run, "user", "add", "ada", "--role", "admin", "--password-stdin"],
        input="correct horse battery staple\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert added.returncode == 0, added.stderr
    listed = subprocess.run([*run, "user", "list"], env=env, capture_output=True, text=True)
    assert "ada" in listed.stdout and "admin" in listed.stdout
    assert "argon2" not in listed.stdout
    token = subprocess.run(
        [*run, "token", "create", "--name", "grafana", "--role", "manager"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert token.returncode == 0 and token.stdout.strip().startswith("bl_")
    assert token.stdout.strip().encode() not in database.read_bytes()


def test_the_simulator_runs_alone() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "webapp", "simulator", "--port", str(port), "--key", "k-123"],
        env=environment(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert f"http://127.0.0.1:{port}/" in process.stdout.readline()
        calls = _get_when_up(
            f"http://127.0.0.1:{port}/api/v1/calls?status=ongoing",
            headers={"Authorization": "Bearer k-123"},
        )
        assert calls.status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.communicate()


def test_the_simulator_serves_two_organisations_each_seeing_only_its_own_calls() -> None:
    port = free_port()
    orgs = ["--org", "acme:k-acme", "--org", "globex:k-globex"]
    process = subprocess.Popen(
        [sys.executable, "-m", "webapp", "simulator", "--port", str(port), "--speed", "20", *orgs],
        env=environment(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert "acme, globex" in banner and "k-acme" not in banner
        url = f"http://127.0.0.1:{port}/api/v1/calls"
        sids = {}
        for name in ("acme", "globex"):
            auth = {"Authorization": f"Bearer k-{name}"}
            deadline = time.monotonic() + 10
            while not (calls := _get_when_up(url, headers=auth).json()):
                assert time.monotonic() < deadline, f"{name} never had a call"
                time.sleep(0.1)
            sids[name] = {call["call_sid"] for call in calls}
        assert not sids["acme"] & sids["globex"]
        some_globex_call = next(iter(sids["globex"]))
        foreign = _get_when_up(
            f"{url}/sid/{some_globex_call}",
            headers={"Authorization": "Bearer k-acme"},
        )
        assert foreign.status_code == 404
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.communicate()


def test_redis_password_is_among_the_secrets_no_log_line_shows() -> None:
    from webapp.cli import secrets_of
    from webapp.settings import Settings

    settings = Settings(
        redis_url="redis://:hunter2-redis-pass@127.0.0.1:6379/0",
        dashboard_session_secret="s" * 40,
    )
    assert "hunter2-redis-pass" in secrets_of(settings)


def test_the_database_password_is_among_the_secrets_no_log_line_shows() -> None:
    from webapp.cli import secrets_of
    from webapp.settings import Settings

    settings = Settings(database_url="postgresql://burki:hunter3-db-pass@db.internal:5432/burki")
    assert "hunter3-db-pass" in secrets_of(settings)
    assert "hunter3-db-pass" not in repr(settings) + str(settings.store_url)
