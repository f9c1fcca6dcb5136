"""What a node writes to Redis and reads back, sealed with the cluster's shared secret.

Anyone who can write to Redis could otherwise make every node show and act on what they
wrote (a forged transcript line raising an alert that the holder posts, signed, to a
webhook), and anyone who can read it would read the transcripts. So every input, request
and stored listing is sealed with AES-GCM (an AEAD: the ciphertext is both encrypted and
authenticated), and every delivery mark carries an HMAC:

- keys come from ``DASHBOARD_SESSION_SECRET`` through HKDF-SHA256, one per purpose and
  stream (``in``, ``req``, ``sent``, ``directory``): a sealed value moved to another
  stream's key, or to another purpose, does not open;
- the associated data binds a sealed value to where it belongs (the stream, the input's
  number ``n``, the lease value that wrote it, the request it answers): a value copied to
  another position does not open either;
- a random 96-bit nonce per seal, under a key per stream, keeps far below AES-GCM's
  bound of 2^32 messages per key.

A value that does not open raises :class:`Forged`; the reader logs that without the
content, counts it, and skips it.
"""

from __future__ import annotations

import base64
import hmac
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "s1."  # sealed values start with this: a format change gets a new one
_NONCE = 12
_SALT = b"burki-live redis v1"


class Forged(Exception):
    """A value in Redis that this cluster's secret did not seal (or not for this place)."""


def _aad(context: tuple[str | int, ...]) -> bytes:
    # Length-prefixed, so no two contexts join to the same bytes.
    parts = [str(part).encode() for part in context]
    return b"".join(len(part).to_bytes(4, "big") + part for part in parts)


class Seal:
    """One purpose's key for one stream: AES-GCM for values, HMAC-SHA256 for marks."""

    __slots__ = ("_aead", "_mac_key")

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)
        self._mac_key = key

    def seal(self, text: str, *context: str | int) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, text.encode(), _aad(context))
        return VERSION + base64.b64encode(nonce + sealed).decode()

    def open(self, value: str, *context: str | int) -> str:
        """The text :meth:`seal` sealed under the same ``context``; else :class:`Forged`."""
        if not value.startswith(VERSION):
            raise Forged("not sealed")
        try:
            raw = base64.b64decode(value[len(VERSION) :], validate=True)
            return self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], _aad(context)).decode()
        except (ValueError, InvalidTag, UnicodeDecodeError):
            raise Forged("does not open") from None

    def mac(self, *context: str | int) -> str:
        return hmac.new(self._mac_key, _aad(context), "sha256").hexdigest()[:32]

    def verify(self, mac: str, *context: str | int) -> bool:
        return hmac.compare_digest(mac.encode(), self.mac(*context).encode())


class Sealer:
    """The cluster's sealing keys, derived from its shared secret (HKDF-SHA256)."""

    def __init__(self, secret: str | bytes) -> None:
        if not secret:
            raise ValueError("a cluster needs a shared secret to seal what it keeps in Redis")
        self._secret = secret.encode() if isinstance(secret, str) else secret
        self._derived = lru_cache(maxsize=4096)(self._derive)

    def __repr__(self) -> str:
        return "Sealer(<secret>)"

    def key(self, purpose: str, stream: str) -> Seal:
        """The key of ``purpose`` for ``stream`` (derived once, then cached)."""
        return self._derived(purpose, stream)

    def _derive(self, purpose: str, stream: str) -> Seal:
        info = _aad((purpose, stream))
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=info)
        return Seal(hkdf.derive(self._secret))
