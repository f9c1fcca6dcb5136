"""Burki keys at rest: sealed with Fernet under the master key(s), never kept in clear.

``BURKI_MASTER_KEY`` holds one or more Fernet keys, comma-separated, newest first.
:class:`MasterKey` seals with the newest and opens with any (``MultiFernet``), so a
master key is rotated without a moment when a stored key cannot be opened: add the new
one first, re-seal every stored key under it (``burki-dashboard org rewrap``), then drop
the old one.

A sealed key also names its organisation: a sealed value copied to another
organisation's row (by someone who can write the database) does not open there, so one
organisation's streams are never opened with another's key.

Errors (:class:`MasterKeyError`) are one sentence for people; none holds a key, a master
key or a sealed value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

MASTER_KEY_HELP = (
    "BURKI_MASTER_KEY is one or more Fernet keys, comma-separated, newest first "
    "(make one with: python -c 'from cryptography.fernet import Fernet; "
    "print(Fernet.generate_key().decode())')"
)


class MasterKeyError(Exception):
    """The master key is missing, malformed, or does not open a stored key (one sentence)."""


def parse_master_keys(text: str) -> list[str]:
    """The Fernet keys of ``text`` (comma-separated, newest first); MasterKeyError naming
    which one is malformed, never showing it."""
    keys = [part.strip() for part in text.split(",") if part.strip()]
    if not keys:
        raise MasterKeyError(f"BURKI_MASTER_KEY is empty: {MASTER_KEY_HELP}")
    for number, key in enumerate(keys, 1):
        try:
            raw = base64.urlsafe_b64decode(key.encode("ascii"))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raw = b""
        if len(raw) != 32:
            raise MasterKeyError(
                f"BURKI_MASTER_KEY: key {number} of {len(keys)} is not a Fernet key "
                "(44 characters of URL-safe base64)"
            )
    return keys


class MasterKey:
    """Seals Burki keys with the newest master key; opens those sealed with any of them."""

    __slots__ = ("_fernet", "_fingerprints", "count")

    def __init__(self, keys: list[str]) -> None:
        keys = parse_master_keys(",".join(keys))
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        self._fingerprints = [fingerprint(key) for key in keys]
        self.count = len(keys)

    @classmethod
    def from_text(cls, text: str) -> MasterKey:
        return cls(parse_master_keys(text))

    def __repr__(self) -> str:
        return f"MasterKey({self.count} key(s), newest {self._fingerprints[0]})"

    def seal(self, org: str, key: str) -> str:
        """``key`` of ``org``, sealed under the newest master key (a Fernet token)."""
        payload = json.dumps({"org": org, "key": key}, separators=(",", ":")).encode()
        return self._fernet.encrypt(payload).decode("ascii")

    def open(self, org: str, sealed: str) -> str:
        """The key ``sealed`` holds for ``org``; MasterKeyError when no master key opens it
        or it was sealed for another organisation."""
        try:
            payload = json.loads(self._fernet.decrypt(sealed.encode("ascii")))
        except (InvalidToken, UnicodeEncodeError, ValueError):
            raise MasterKeyError(
                f"the key of organisation {org!r} does not open with BURKI_MASTER_KEY "
                "(a wrong master key, or the old one dropped before `org rewrap`)"
            ) from None
        if not isinstance(payload, dict) or payload.get("org") != org:
            raise MasterKeyError(f"the stored key of organisation {org!r} is not its own")
        key = payload.get("key")
        if not isinstance(key, str) or not key:
            raise MasterKeyError(f"the stored key of organisation {org!r} is empty")
        return key

    def rewrap(self, org: str, sealed: str) -> str:
        """``sealed`` sealed again under the newest master key (opened first, so it checks)."""
        return self.seal(org, self.open(org, sealed))


def fingerprint(key: str) -> str:
    """A short, one-way name of a key for a listing (48 bits of a salted SHA-256): enough to
    tell two keys apart, far too little to find one."""
    digest = hashlib.sha256(b"burki-live key fingerprint\0" + key.encode()).hexdigest()
    return f"fp:{digest[:12]}"


def masked(key: str) -> str:
    """The confirmation shown once when a key is entered: its last 4 characters at most."""
    return "…" + key[-4:] if len(key) >= 12 else "…" + "*" * 4
