"""``burki-dashboard migrate-files``: the old files' users, tokens, embed links and audit
entries come over into the database as they were (passwords, tokens and links still work),
and running it again copies nothing twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import tomli_w
from argon2 import PasswordHasher

from webapp.access.embedlinks import EmbedLinks, EmbedSigner, embed_scope
from webapp.access.embedstore import StoredEmbedLinks
from webapp.access.filemove import FileError, OldFiles, files_waiting, migrate_files
from webapp.access.tokens import TokenStore, token_digest
from webapp.access.users import Role, UserStore
from webapp.store.store import Store

PASSWORD = "correct horse battery staple"
TOKEN = "bl_" + "t" * 43
SECRET = "embed-secret-0123456789abcdef-0123456789"
T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def old_files(folder: Path, signed: str) -> OldFiles:
    """Files as the dashboard wrote them before the store (TOML and JSON lines)."""
    hashed = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    users = {
        "users": {
            "ada": {
                "role": "admin",
                "password_hash": hashed,
                "created_at": T0,
                "session_epoch": "e1",
            }
        }
    }
    tokens = {
        "tokens": {
            "grafana": {"sha256": token_digest(TOKEN), "role": "manager", "created_at": T0},
            "old": {"sha256": "a" * 64, "role": "admin", "created_at": T0, "revoked": True},
        }
    }
    link = {
        "kind": "call",
        "ident": "CA1",
        "instance": "live",
        "created_at": T0,
        "expires_at": T0 + timedelta(days=30),
        "created_by": "ada",
    }
    files = OldFiles(
        folder / "users.toml",
        folder / "tokens.toml",
        folder / "embed-links.toml",
        folder / "a.jsonl",
    )
    files.users.write_text(tomli_w.dumps(users))
    files.tokens.write_text(tomli_w.dumps(tokens))
    files.embed_links.write_text(tomli_w.dumps({"links": {signed: link}}))
    lines = [
        {"at": "2026-11-30T08:00:00Z", "who": "ada", "via": "page", "what": "call:CA1",
         "route": "/calls/CA1", "address": "10.0.0.5"},
        {"at": "2026-11-30T08:01:00Z", "who": "bot", "via": "token", "what": "campaign:2",
         "route": "/api/campaigns/2/events", "address": "10.0.0.6"},
    ]  # fmt: skip
    files.audit.write_text("\n".join(json.dumps(line) for line in lines) + "\nnot json\n")
    return files


async def test_the_old_files_come_over_and_keep_working(store_db: Store, tmp_path: Path) -> None:
    signer = EmbedSigner(SECRET, "live", lambda: T0.timestamp() + 60)
    links = EmbedLinks(signer, StoredEmbedLinks(store_db))
    token = signer.sign("abc123", embed_scope("call", "CA1"), int(T0.timestamp()) + 86_400)
    files = old_files(tmp_path, "abc123")
    assert await files_waiting(store_db, files) is not None

    moved = await migrate_files(store_db, files)

    assert str(moved) == "copied 1 users, 2 tokens, 1 embed links, 2 audit entries"
    assert await files_waiting(store_db, files) is None
    user = await UserStore(store_db).verify("ada", PASSWORD)
    assert user is not None and user.role is Role.ADMIN and user.session_epoch == "e1"
    tokens = TokenStore(store_db)
    found = await tokens.verify(TOKEN)
    assert found is not None and found.name == "grafana"
    assert [t.revoked for t in await tokens.list()] == [False, True]
    assert (await links.verify(token, embed_scope("call", "CA1"))).link_id == "abc123"
    assert [(r.who, r.what) for r in await store_db.audit.newest(None)] == [
        ("bot", "campaign:2"),
        ("ada", "call:CA1"),
    ]


async def test_migrating_again_copies_nothing_twice(store_db: Store, tmp_path: Path) -> None:
    files = old_files(tmp_path, "abc123")
    await migrate_files(store_db, files)
    again = await migrate_files(store_db, files)
    assert str(again) == (
        "copied 0 users, 0 tokens, 0 embed links, 0 audit entries (6 were there already)"
    )
    assert len(await store_db.audit.newest(None)) == 2


async def test_a_broken_old_file_is_one_line_naming_it_without_its_content(
    store_db: Store, tmp_path: Path
) -> None:
    files = old_files(tmp_path, "abc123")
    files.users.write_text('[users.ada]\nrole = "admin"\npassword_hash = "s3cret-looking\n')
    with pytest.raises(FileError) as caught:
        await migrate_files(store_db, files)
    assert str(files.users) in str(caught.value) and "\n" not in str(caught.value)
    assert "s3cret" not in str(caught.value)
