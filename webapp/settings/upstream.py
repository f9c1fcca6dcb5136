"""Burki upstream: where it is, how the key travels, its timeouts; and the demo's stand-in."""

from __future__ import annotations

from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from webapp.access.netaddr import is_loopback
from webapp.wire.upstream import AuthMode

from .base import Area


class BurkiSettings(Area):
    burki_api_key: SecretStr | None = Field(
        None, description="Burki API key. Unset (and no key file): demo mode with the simulator."
    )
    burki_api_key_file: Path | None = Field(
        None, description="File holding the Burki API key (e.g. a mounted secret); read once."
    )
    burki_base_url: str = Field(
        "https://api.burki.dev",
        description="Burki base URL; WebSocket URLs are derived from it (https->wss, http->ws).",
    )
    burki_org_name: str = Field(
        "Burki",
        min_length=1,
        max_length=64,
        description="Display name of the organisation of BURKI_API_KEY (the default one).",
    )
    burki_auth_mode: AuthMode = Field(
        AuthMode.AUTO,
        description="How the key travels upstream: auto (header, then ?token= if the server "
        "cannot read it), header, query or subprotocol.",
    )
    burki_keepalive_interval: float = Field(
        30.0, gt=0, description='Seconds between JSON {"type":"ping"} keepalives upstream.'
    )
    burki_pong_timeout: float = Field(
        10.0,
        gt=0,
        description='Seconds a JSON {"type":"ping"} waits for its pong; none: the connection '
        "is dropped and reopened (a dead Burki handler still answers protocol pings).",
    )
    burki_ping_timeout: float = Field(
        20.0,
        gt=0,
        description="Seconds between WebSocket protocol pings upstream, and how long to wait "
        "for the pong before the peer is declared dead.",
    )
    burki_connect_timeout: float = Field(
        10.0, gt=0, description="Seconds allowed for an upstream WebSocket handshake."
    )
    burki_backoff_cap: float = Field(
        60.0, gt=0, description="Upper bound, in seconds, of the reconnect backoff."
    )
    burki_auth_retry: float = Field(
        60.0,
        gt=0,
        description="Seconds before a stream whose key Burki refused tries once more (Burki "
        "refuses a valid key while its database is down).",
    )
    burki_max_frame_bytes: int = Field(
        1_048_576,
        ge=1024,
        description="Largest upstream frame processed; larger frames are logged and skipped.",
    )
    burki_compression: bool = Field(
        False,
        description="Offer permessage-deflate on Burki's WebSockets: fewer bytes from Burki, "
        "about 50 KiB more memory and some CPU per open stream (worth it only on a slow link).",
    )
    burki_rest_timeout: float = Field(
        10.0, gt=0, description="Seconds allowed for one Burki REST request."
    )
    burki_allow_insecure: bool = Field(
        False,
        description="Allow ws:// and http:// to a Burki that is not on this machine "
        "(never in production).",
    )
    burki_ca_bundle: Path | None = Field(
        None, description="CA bundle (PEM) to verify a private Burki deployment's certificate."
    )
    demo_seed: int = Field(7, description="Seed of the demo simulator's scripted traffic.")
    demo_speed: float = Field(
        1.0, gt=0, description="Speed factor of the demo simulator (2 = twice as fast)."
    )
    demo_simulator_port: int = Field(
        0, ge=0, le=65535, description="Port of the demo simulator (0: any free port)."
    )
    demo_oss_quirks: bool = Field(
        False,
        description="The demo simulator behaves like the open-source Burki server (no "
        "campaigns, Telnyx ids, status before history, dead handlers, ...).",
    )

    @field_validator("burki_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _transport(self) -> Self:
        if self.burki_base_url.startswith("http://") and not self.burki_allow_insecure:
            host = urlsplit(self.burki_base_url).hostname or ""
            if not is_loopback(host):
                raise ValueError(
                    "BURKI_BASE_URL: http:// to a Burki that is not on this machine sends the "
                    "key in clear; use https:// (or set BURKI_ALLOW_INSECURE=true)"
                )
        return self

    @model_validator(mode="after")
    def _read_key_file(self) -> Self:
        if self.burki_api_key is None and self.burki_api_key_file is not None:
            try:
                key = self.burki_api_key_file.read_text().strip()
            except OSError as exc:
                raise ValueError(f"BURKI_API_KEY_FILE: cannot read ({exc.strerror})") from None
            if not key:
                raise ValueError("BURKI_API_KEY_FILE: the file is empty")
            object.__setattr__(self, "burki_api_key", SecretStr(key))
        return self

    @property
    def demo(self) -> bool:
        """Demo mode: no key, so the built-in simulator stands in for Burki."""
        return self.burki_api_key is None

    @property
    def ws_base_url(self) -> str:
        return "ws" + self.burki_base_url.removeprefix("http")
