"""One-time sign-in links (demo mode, like Jupyter's token URL), held in memory.

A running demo also writes a *link key* file (owner-only, beside the users file:
``demo-signin.json``): ``burki-dashboard signin-link`` reads it and signs a new
one-time link, so a second device (a TV beside a laptop) can sign in without a
restart that would end every session. Such a link is ``<nonce>.<expiry>.<mac>``;
the server checks the MAC and the expiry and remembers the nonce until the
expiry, so it too works once. A new start writes a new key: older links die.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from webapp.access.users import Role

KEY_FILE = "demo-signin.json"
SIGNED_TTL = 3600


def _mac(key: bytes, body: str) -> str:
    digest = hmac.new(key, body.encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(key: bytes, now: float | None = None, ttl: int = SIGNED_TTL) -> str:
    """A one-time link token signed with ``key``, valid for ``ttl`` seconds."""
    body = f"{secrets.token_urlsafe(12)}.{int((now or time.time()) + ttl)}"
    return f"{body}.{_mac(key, body)}"


@dataclass
class SignInLinks:
    """One-time sign-in links held in memory: each token works once, until it expires."""

    ttl: float = 3600.0
    _links: dict[str, tuple[str, Role, float]] = field(default_factory=dict)
    key: bytes | None = None  # signs links made by ``burki-dashboard signin-link``
    _used: dict[str, float] = field(default_factory=dict)  # nonce -> expiry

    def issue(self, name: str, role: Role) -> str:
        token = secrets.token_urlsafe(24)
        self._links[token] = (name, role, time.monotonic() + self.ttl)
        return f"/signin/link?token={token}"

    def consume(self, token: str) -> tuple[str, Role] | None:
        found = self._links.pop(token, None) if len(token) <= 64 else None
        if found is None:
            return ("demo", Role.ADMIN) if self._signed(token) else None
        if found[2] < time.monotonic():
            return None
        return found[0], found[1]

    def _signed(self, token: str, now: float | None = None) -> bool:
        parts = token.split(".") if self.key is not None and len(token) <= 64 else []
        if len(parts) != 3 or not parts[1].isdigit() or self.key is None:
            return False
        nonce, expiry, mac = parts
        now = time.time() if now is None else now
        if not hmac.compare_digest(mac, _mac(self.key, f"{nonce}.{expiry}")):
            return False
        self._used = {n: at for n, at in self._used.items() if at >= now}  # bounded by expiry
        if int(expiry) < now or nonce in self._used:
            return False
        self._used[nonce] = float(expiry)
        return True

    def publish_key(self, folder: Path, base_url: str) -> Path:
        """Make a new link key and write it (owner-only) for ``signin-link`` to read."""
        self.key = secrets.token_bytes(32)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / KEY_FILE
        text = json.dumps({"key": self.key.hex(), "base": base_url})
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(text)
        os.chmod(path, 0o600)
        return path


def new_link(folder: Path) -> str:
    """A fresh one-time sign-in link for the demo running beside ``folder``.

    Raises ``FileNotFoundError`` when no demo wrote its key there."""
    stored = json.loads((folder / KEY_FILE).read_text())
    token = sign(bytes.fromhex(stored["key"]))
    return f"{stored['base']}/signin/link?token={token}"
