"""Serving: where the dashboard listens, connection and request limits, shutdown, memory."""

from __future__ import annotations

from pydantic import Field, field_validator

from .base import Area


class ServerSettings(Area):
    dashboard_shutdown_timeout: float = Field(
        5.0, gt=0, description="Seconds open responses get to drain on shutdown (SIGTERM, Ctrl-C)."
    )
    dashboard_gc_freeze_interval: float = Field(
        0.5,
        ge=0,
        description="Seconds between checks for new long-lived objects (open streams) to freeze, "
        "so that no full garbage collection walks them (0: the collector's defaults).",
    )
    dashboard_gc_sweep_minutes: float = Field(
        10.0,
        ge=0,
        description="Minutes between the scheduled full collections that reclaim what frozen "
        "viewers left behind (0: never).",
    )
    dashboard_missing_cache_seconds: float = Field(
        30.0,
        ge=0,
        description="Seconds a call or campaign id Burki said does not exist is answered 404 "
        "without asking Burki again (and opens no upstream).",
    )
    dashboard_header_timeout: float = Field(
        10.0, gt=0, description="Seconds a client has to send a request's headers."
    )
    dashboard_keepalive_timeout: float = Field(
        5.0, gt=0, description="Seconds an idle keep-alive connection stays open."
    )
    dashboard_max_header_bytes: int = Field(
        32_768, ge=4096, description="Largest request head (request line and headers) read."
    )
    dashboard_max_connections: int = Field(
        4000,
        ge=10,
        description="Connections and requests served at once; more get 503 (open streams count).",
    )
    dashboard_max_connections_per_address: int = Field(
        0,
        ge=0,
        description="Connections one client address (an IPv6 /64) may hold at once; more are "
        "answered 503 at once. 0: a quarter of DASHBOARD_MAX_CONNECTIONS. Trusted proxies "
        "are not limited by it.",
    )
    dashboard_body_timeout: float = Field(
        30.0, gt=0, description="Seconds a client has to send a whole request body."
    )
    dashboard_body_min_rate: int = Field(
        500,
        ge=1,
        description="Bytes per second a request body must arrive at, on average, once "
        "DASHBOARD_HEADER_TIMEOUT seconds have passed since its head; slower ones are cut.",
    )
    dashboard_max_form_bytes: int = Field(
        16_384,
        ge=1024,
        description="Largest request body of a form (sign-in, actions, admin); every other "
        "route takes none. Larger ones get 413, bodies without a length 411.",
    )
    dashboard_host: str = Field("127.0.0.1", description="Address the dashboard listens on.")
    dashboard_port: int = Field(8000, ge=0, le=65535, description="Port the dashboard listens on.")
    dashboard_log_level: str = Field(
        "info", description="Log level: debug, info, warning or error."
    )

    @field_validator("dashboard_log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.lower() not in {"debug", "info", "warning", "error"}:
            raise ValueError("must be one of debug, info, warning, error")
        return value.lower()
