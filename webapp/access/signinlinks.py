"""One-time sign-in links (demo mode, like Jupyter's token URL), held in memory."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from webapp.access.users import Role


@dataclass
class SignInLinks:
    """One-time sign-in links held in memory: each token works once, until it expires."""

    ttl: float = 3600.0
    _links: dict[str, tuple[str, Role, float]] = field(default_factory=dict)

    def issue(self, name: str, role: Role) -> str:
        token = secrets.token_urlsafe(24)
        self._links[token] = (name, role, time.monotonic() + self.ttl)
        return f"/signin/link?token={token}"

    def consume(self, token: str) -> tuple[str, Role] | None:
        found = self._links.pop(token, None) if len(token) <= 64 else None
        if found is None or found[2] < time.monotonic():
            return None
        return found[0], found[1]
