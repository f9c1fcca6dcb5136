"""``burki-dashboard db upgrade``: the schema brought up to date, or one line saying why not."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.redisserver import free_port
from webapp.cli import main
from webapp.store import migrate


def test_db_upgrade_makes_the_sqlite_file_private_and_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "var" / "store.sqlite3"
    monkeypatch.setenv("DASHBOARD_DATABASE_FILE", str(database))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    assert migrate.head() in capsys.readouterr().out
    assert database.stat().st_mode & 0o077 == 0
    assert database.parent.stat().st_mode & 0o077 == 0


def test_db_upgrade_of_an_unreachable_database_is_one_line_without_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://burki:pw-9x8y@127.0.0.1:{free_port()}/b")
    monkeypatch.setenv("DATABASE_TIMEOUT", "2")
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unreachable" in err and "pw-9x8y" not in err
