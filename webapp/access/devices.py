"""Device cookies: a browser that signed in as a user before is not locked out with strangers.

Failed sign-ins lock an address (``webapp.access.throttle``), and everyone behind
one address (an office, a proxy without ``DASHBOARD_TRUSTED_PROXIES``) shares it:
an attacker's guesses would lock the right password out too. As the big
identity providers do (OWASP's "device cookies"), a successful password sign-in
gives the browser a device cookie, and an attempt that carries one for the name
it tries is exempt from the *address* limit, only that:

- **bound to the user**: it names the (case-folded) user and the kind of instance,
  and counts only for that name;
- **signed** with a key derived from the session secret (HMAC through
  ``itsdangerous``), so it cannot be made or altered;
- **expiring** after ``DASHBOARD_DEVICE_DAYS`` (0: no device cookies);
- **limited on its own**: every attempt with it still counts against the user's
  limit and against a per-device limit keyed by its random id, which a success
  does not reset (a success gives a new id), so a stolen cookie allows at most
  that many guesses per window however often its owner signs in;
- scoped to ``/signin`` (``Path``), ``HttpOnly``, ``SameSite=Strict``, ``Secure``
  over HTTPS: no other request carries it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.responses import Response

DEVICE_COOKIE = "burki_device"
COOKIE_PATH = "/signin"


class DeviceCookies:
    """Issues and reads device cookies; stateless (a cluster's nodes share the secret)."""

    def __init__(
        self,
        secret: str,
        instance: str,
        max_age: float,
        clock: Callable[[], float] = time.time,
        https: bool | None = None,
    ) -> None:
        self._serializer = URLSafeSerializer(secret, salt="burki-live device cookie")
        self.instance = instance
        self.max_age = max_age
        self._clock = clock
        self.https = https  # DASHBOARD_HTTPS: None decides per request from its scheme

    @property
    def enabled(self) -> bool:
        return self.max_age > 0

    def issue(self, user: str) -> str:
        """A new cookie value for ``user``, with a new random device id."""
        payload = {
            "u": user.casefold()[:128],
            "d": secrets.token_urlsafe(16),
            "i": self.instance,
            "e": int(self._clock() + self.max_age),
        }
        return str(self._serializer.dumps(payload))

    def device_of(self, cookie: str | None, user: str) -> str | None:
        """The device id of ``cookie`` if it is genuine, unexpired, of this instance and
        issued to ``user``; else None (never raises on a forged or mangled value)."""
        if not self.enabled or not cookie or len(cookie) > 1024:
            return None
        try:
            payload: Any = self._serializer.loads(cookie)
        except (BadSignature, ValueError, TypeError):
            return None
        if not isinstance(payload, dict):
            return None
        device, expires = payload.get("d"), payload.get("e")
        if not isinstance(device, str) or not isinstance(expires, int):
            return None
        if payload.get("u") != user.casefold()[:128] or payload.get("i") != self.instance:
            return None
        return device if self._clock() < expires else None

    def remember(self, response: Response, user: str, scheme: str) -> None:
        """Give the browser a (new) device cookie for ``user`` (``Secure`` as the session's)."""
        if not self.enabled:
            return
        secure = self.https if self.https is not None else scheme in ("https", "wss")
        response.set_cookie(
            DEVICE_COOKIE,
            self.issue(user),
            max_age=int(self.max_age),
            path=COOKIE_PATH,
            secure=secure,
            httponly=True,
            samesite="strict",
        )
