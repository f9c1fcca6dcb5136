"""``burki-dashboard org ...`` as an operator runs it: the real CLI process, a real store
(a SQLite file, then a PostgreSQL database), the key piped in and never seen again."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.postgres import bindir_or_skip
from tests.redisserver import free_port
from tests.test_cli import _get_when_up
from webapp.orgs.book import OrgBook
from webapp.orgs.sealing import MasterKey
from webapp.store.database import database_url as parse_url
from webapp.store.store import open_store

KEY = "bk-acme-9f3c1e7a5b2d4c6e8f0a"  # an organisation's Burki key
NEW_KEY = "bk-acme-rotated-1a2b3c4d5e6f"
MASTER, NEWER = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def org(
    database_url: str, *args: str, master: str | None = MASTER, key: str = ""
) -> tuple[int, str, str]:
    """Run ``burki-dashboard org ARGS`` on ``database_url``, ``key`` on its stdin."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BURKI_", "DASHBOARD_"))}
    env |= {"DATABASE_URL": database_url, "DATABASE_TIMEOUT": "5"}
    if master is not None:
        env["BURKI_MASTER_KEY"] = master
    done = subprocess.run(
        [sys.executable, "-m", "webapp", "org", *args],
        input=key,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout, done.stderr


def add_acme(database_url: str, master: str = MASTER) -> tuple[int, str, str]:
    return org(
        database_url,
        *("add", "acme", "--name", "Acme Support", "--url", "https://acme.burki.example"),
        "--key-stdin",
        master=master,
        key=KEY + "\n",
    )


def stored_bytes(database_url: str, tmp_path: Path) -> bytes:
    """Every byte the database keeps: the SQLite file and its write-ahead log, or a dump of
    PostgreSQL's data (what a stolen backup would hold)."""
    if database_url.startswith("sqlite"):
        return b"".join(p.read_bytes() for p in tmp_path.glob("store.sqlite3*"))
    dump = [str(bindir_or_skip() / "pg_dump"), "--data-only", database_url]
    return subprocess.run(dump, capture_output=True, check=True, timeout=60).stdout


def test_a_key_piped_to_org_add_is_confirmed_masked_and_never_kept_or_shown_in_clear(
    database_url: str, tmp_path: Path
) -> None:
    code, out, err = add_acme(database_url)
    assert code == 0, err
    assert "acme" in out and KEY[-4:] in out
    assert KEY not in out + err
    code, listing, err = org(database_url, "list")
    assert code == 0, err
    header, row = listing.splitlines()
    assert header.split()[:3] == ["SLUG", "NAME", "URL"]
    assert row.startswith("acme") and "Acme Support" in row and "fp:" in row
    assert KEY not in listing + err and KEY[-4:] not in listing  # shown once, then never
    assert KEY.encode() not in stored_bytes(database_url, tmp_path)
    assert KEY in _opened(database_url)  # and yet it opens with the master key
    code, audit, _ = subprocess_audit(database_url)
    assert "organisation acme added" in audit and KEY not in audit


def subprocess_audit(database_url: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BURKI_", "DASHBOARD_"))}
    env |= {"DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-m", "webapp", "audit", "export"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout, done.stderr


def _opened(database_url: str, master: str = MASTER) -> str:
    async def read() -> str:
        store = await open_store(parse_url(database_url))
        try:
            opened, refused = await OrgBook(store.orgs, MasterKey.from_text(master)).opened()
        finally:
            await store.close()
        assert not refused, refused
        return " ".join(o.key for o in opened)

    return asyncio.run(read())


def test_the_key_is_never_taken_from_the_arguments_and_without_stdin_nothing_is_asked(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    code, _, err = org(url, "add", "acme", "--name", "A", "--url", "https://a.example", KEY)
    assert code == 2 and "unrecognized arguments" in err  # argparse: no place for a key
    code, _, err = org(url, "add", "acme", "--name", "A", "--url", "https://a.example")
    assert code == 2 and "--key-stdin" in err and "Traceback" not in err  # no terminal here


@pytest.mark.parametrize(
    ("master", "said"),
    [
        (None, "BURKI_MASTER_KEY (or BURKI_MASTER_KEY_FILE) is not set"),
        ("not-a-fernet-key", "is not a Fernet key"),
        (f"{MASTER},short", "key 2 of 2 is not a Fernet key"),
    ],
)
def test_a_missing_or_malformed_master_key_is_one_line_that_never_shows_it(
    tmp_path: Path, master: str | None, said: str
) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    code, out, err = add_acme(url, master=master) if master else _add_without_master(url)
    assert code == 2, out
    assert said in err and err.count("\n") == 1 and "Traceback" not in err
    assert KEY not in out + err and (master is None or master not in err)
    assert MASTER not in err


def _add_without_master(url: str) -> tuple[int, str, str]:
    return org(
        url,
        *("add", "acme", "--name", "A", "--url", "https://a.example", "--key-stdin"),
        master=None,
        key=KEY + "\n",
    )


def test_a_wrong_master_key_opens_nothing_and_says_so_without_a_traceback(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    assert add_acme(url)[0] == 0
    code, listing, err = org(url, "list", master=NEWER)
    assert code == 0 and "(does not open)" in listing
    code, out, err = org(url, "rewrap", master=NEWER)
    assert code == 2 and "does not open with BURKI_MASTER_KEY" in err
    assert "Traceback" not in err and KEY not in out + err and NEWER not in err
    assert KEY in _opened(url)  # nothing was written: the old master key still opens it


def test_rewrap_under_a_new_master_key_then_dropping_the_old_one_still_opens(
    database_url: str,
) -> None:
    assert add_acme(database_url)[0] == 0
    code, out, err = org(database_url, "rewrap", master=f"{NEWER},{MASTER}")  # new one first
    assert code == 0 and "1 key(s)" in out, err
    assert KEY in _opened(database_url, master=NEWER)  # the old master key is gone
    code, listing, _ = org(database_url, "list", master=NEWER)
    assert "fp:" in listing and "(does not open)" not in listing


def test_rotate_key_replaces_the_key_and_remove_forgets_the_organisation(
    database_url: str,
) -> None:
    assert add_acme(database_url)[0] == 0
    before = org(database_url, "list")[1]
    code, out, err = org(database_url, "rotate-key", "acme", "--key-stdin", key=NEW_KEY + "\n")
    assert code == 0 and NEW_KEY[-4:] in out and NEW_KEY not in out + err, err
    after = org(database_url, "list")[1]
    assert before.split()[-1] != after.split()[-1]  # another fingerprint
    assert _opened(database_url) == NEW_KEY
    code, _, err = org(database_url, "rotate-key", "nope", "--key-stdin", key=NEW_KEY + "\n")
    assert code == 2 and "no organisation 'nope'" in err
    assert org(database_url, "remove", "acme")[0] == 0
    code, listing, err = org(database_url, "list")
    assert listing == "" and "no organisations" in err
    code, _, err = org(database_url, "remove", "acme")
    assert code == 2 and "no organisation 'acme'" in err


def test_a_bad_slug_url_or_a_second_acme_is_refused_in_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    assert add_acme(url)[0] == 0
    code, _, err = add_acme(url)
    assert code == 2 and "already an organisation 'acme'" in err
    refused = [
        ("default", "https://x.example"),
        ("Acme!", "https://x.example"),
        ("ok", "http://burki.example"),
        ("ok", "https://u:p@x.example"),
    ]
    for slug, where in refused:
        code, _, err = org(
            url, "add", slug, "--name", "X", "--url", where, "--key-stdin", key=KEY + "\n"
        )
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, (slug, where)


def test_a_master_key_without_a_burki_key_serves_the_org_book_not_the_demo(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BURKI_", "DASHBOARD_"))}
    port = free_port()
    env |= {"DATABASE_URL": url, "BURKI_MASTER_KEY": MASTER, "DASHBOARD_PORT": str(port)}
    env |= {"DASHBOARD_USERS_FILE": str(tmp_path / "users.toml")}
    process = subprocess.Popen(
        [sys.executable, "-m", "webapp", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline() + process.stdout.readline()
        assert "0 organisation(s) of the org book" in banner and "demo" not in banner
        assert "No organisations yet: add one with `burki-dashboard org add" in banner
        assert _get_when_up(f"http://127.0.0.1:{port}/").status_code == 303  # sign in first
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
    finally:
        process.kill()
        _, errors = process.communicate()
    assert "Traceback" not in errors and MASTER not in errors
