"""The one typed settings object, built from the environment in one place.

Every field is read from the environment variable of the same name in upper
case (``burki_base_url`` <- ``BURKI_BASE_URL``). Every field has a default and a
help line (its ``description``); docs/configuration.md lists them all and a test keeps the
two in step.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import phonenumbers
from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL

from webapp.access.netaddr import Network, is_loopback, parse_networks
from webapp.access.secheaders import parse_origins
from webapp.access.users import Role, StoreError, parse_role
from webapp.alerts.attention import DEFAULT_WEIGHTS, Weights, parse_weights
from webapp.alerts.endpoints import SEVERITIES, Endpoint, parse_endpoints
from webapp.alerts.keywords import KeywordRule, parse_rules
from webapp.store.database import database_url, sqlite_url
from webapp.wire.caller import CallerShown
from webapp.wire.upstream import AuthMode

__all__ = ["PROJECT_ROOT", "AuthMode", "Settings", "SettingsError", "load_settings"]

T = TypeVar("T")

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(Exception):
    """A setting has a bad value; the message is one line naming the variable."""


AuthModeDashboard = Literal["password", "sso"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        case_sensitive=False, extra="ignore", frozen=True, hide_input_in_errors=True
    )

    # The list settings, parsed once by _parse_lists (read them through the properties).
    _alert_keywords: tuple[KeywordRule, ...] = PrivateAttr(())
    _attention_weights: Weights = PrivateAttr(Weights())
    _webhook_endpoints: tuple[Endpoint, ...] = PrivateAttr(())
    _dashboard_embed_origins: tuple[str, ...] = PrivateAttr(())
    _dashboard_trusted_proxies: tuple[Network, ...] = PrivateAttr(())
    _redaction_unredact_roles: frozenset[Role] = PrivateAttr(frozenset())

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
    burki_rest_timeout: float = Field(
        10.0, gt=0, description="Seconds allowed for one Burki REST request."
    )
    relay_grace_period: float = Field(
        30.0, ge=0, description="Seconds an upstream stays open after its last viewer leaves."
    )
    relay_linger: float = Field(
        300.0,
        ge=0,
        description="Seconds an ended call or campaign stays in memory for late viewers.",
    )
    relay_log_size: int = Field(
        500, ge=300, description="Events kept per stream for exact resume (at least 300)."
    )
    relay_viewer_queue: int = Field(
        256,
        ge=8,
        description="Frames queued per viewer; a viewer that falls further behind is cut.",
    )
    relay_stall_timeout: float = Field(
        5.0, gt=0, description="Seconds a viewer may stall one write before it is cut."
    )
    relay_heartbeat: float = Field(
        15.0,
        gt=0,
        description="Seconds of silence before an SSE heartbeat comment (a viewer sent "
        "nothing for that long hears one within 1.5 times it).",
    )
    relay_poll_interval: float = Field(
        5.0, gt=0, description="Seconds between REST polls while a stream is in fallback."
    )
    relay_poll_after_failures: int = Field(
        3, ge=1, description="Failed reconnects in a row before a stream falls back to polling."
    )
    relay_replay_quiet: float = Field(
        1.0,
        gt=0,
        description="Seconds without a frame after an ended call's status before its "
        "replayed transcript counts as complete (bounded by 10x this).",
    )
    relay_no_activity_minutes: float = Field(
        10.0,
        gt=0,
        description='Minutes without a segment before an ongoing call is marked "no activity".',
    )
    directory_poll_interval: float = Field(
        5.0,
        gt=0,
        description="Seconds between polls of Burki's lists of ongoing calls and running "
        "campaigns (overview, wallboard).",
    )
    alert_segment_threshold: float = Field(
        -0.5,
        ge=-1,
        le=1,
        description="A caller segment scoring below this (-1..1) raises a sentiment alert.",
    )
    alert_average_threshold: float = Field(
        -0.3,
        ge=-1,
        le=1,
        description="An alert when the caller's rolling average drops below this; again only "
        "after it recovers.",
    )
    alert_window: int = Field(
        10, ge=1, le=100, description="Caller segments in the rolling sentiment average."
    )
    alert_keywords: str = Field(
        "cancel my account:high, lawyer:high, speak to a manager:medium",
        description="Phrases that raise an alert: comma-separated "
        "phrase[:low|medium|high][@user|assistant|any], case-insensitive whole words.",
    )
    health_silence_warn: float = Field(
        5.0, gt=0, description="Seconds of dead air on a call that count as a warning."
    )
    health_silence_alarm: float = Field(
        10.0, gt=0, description="Seconds of dead air on a call that raise the alarm."
    )
    health_slow_response: float = Field(
        2.0,
        gt=0,
        description="Seconds the AI may take to answer the caller before it counts as slow.",
    )
    health_long_call_minutes: float = Field(
        15.0, gt=0, description="Minutes after which a call counts as long."
    )
    attention_weights: str = Field(
        DEFAULT_WEIGHTS,
        description="Points each reason adds to a call's attention score (0-100): "
        "comma-separated name=points; names not given keep their default.",
    )
    attention_threshold: int = Field(
        20,
        ge=1,
        le=100,
        description="Attention score from which the overview lists a call under Needs attention.",
    )
    webhook_endpoints: SecretStr = Field(
        SecretStr(""),
        description='JSON list of {"url", "secret", "events": ["alert", "campaign", '
        '"call_status"]}; empty: no webhooks.',
    )
    alert_email_to: str = Field(
        "",
        description="Comma-separated addresses that get alerts by e-mail (over SMTP_HOST); "
        "empty: no e-mail.",
    )
    alert_email_severities: str = Field(
        "high",
        description="Comma-separated alert severities (low, medium, high) sent by e-mail; "
        "empty: all.",
    )
    alert_email_kinds: str = Field(
        "",
        description="Comma-separated alert kinds (e.g. keyword, sentiment) sent by e-mail; "
        "empty: all.",
    )
    smtp_host: str = Field("localhost", description="SMTP server for alert e-mail.")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP server port.")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        "starttls",
        description="starttls (upgrade a plain connection), tls (TLS from the start, e.g. "
        "port 465) or none (a local relay only).",
    )
    smtp_sender: str = Field(
        "burki-live@localhost", description="The From address of alert e-mail."
    )
    smtp_username: str = Field("", description="SMTP login name; empty: no login.")
    smtp_password: SecretStr = Field(
        SecretStr(""), description="SMTP password (never logged or shown)."
    )
    webhook_allow_insecure: bool = Field(
        False,
        description="Allow http:// webhook URLs to hosts that are not this machine (alerts "
        "and transcript excerpts travel in clear).",
    )
    webhook_timeout: float = Field(5.0, gt=0, description="Seconds allowed for one webhook POST.")
    webhook_queue_size: int = Field(
        1000, ge=1, description="Events queued per endpoint; when full the oldest is dropped."
    )
    webhook_max_attempts: int = Field(
        8, ge=1, description="Attempts per event before a webhook delivery is given up."
    )
    redaction_enabled: bool = Field(
        True,
        description="Mask personal data (cards, SSNs, IBANs, e-mails, phone numbers) in "
        "transcripts before they are stored, shown, exported or sent anywhere.",
    )
    redaction_unredact_roles: str = Field(
        "admin",
        description="Comma-separated roles that may open the unredacted transcript (audited); "
        "empty: nobody, and no node keeps the unredacted text (a cluster's Redis holds "
        "Burki's text encrypted).",
    )
    actions_end_call_roles: str = Field(
        "supervisor,admin",
        description="Comma-separated roles that may end a live call from the dashboard "
        "(confirmed and audited); empty: nobody.",
    )
    actions_campaign_roles: str = Field(
        "manager,admin",
        description="Comma-separated roles that may pause, resume or stop a campaign "
        "(audited); empty: nobody.",
    )
    actions_capability_ttl: float = Field(
        600.0,
        gt=0,
        description="Seconds a Burki that answered 404 to an action (the open-source server "
        "has none) is remembered as lacking it; its buttons show as unavailable meanwhile.",
    )
    redaction_caller_numbers: CallerShown = Field(
        "last4",
        description="How callers' phone numbers (call metadata, Burki's call lists) are shown "
        "and sent everywhere: last4 (••••0100), full, or hidden ([phone]).",
    )
    redaction_strict_digits: int = Field(
        0,
        ge=0,
        description="Strict mode: also mask every run of this many digits or more "
        "(e.g. 4); 0: off.",
    )
    redaction_phone_region: str = Field(
        "US",
        description="Region (ISO 3166 code) whose phone numbers are recognised without "
        "a +country code.",
    )
    redaction_hold: float = Field(
        2.0,
        ge=0,
        description="Seconds a final segment ending in a number may wait for the speaker's "
        "next segment, which may complete it.",
    )
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
    dashboard_auth_mode: AuthModeDashboard = Field(
        "password",
        description="How people sign in: password (the users file) or sso (a user header set "
        "by a trusted reverse proxy such as oauth2-proxy).",
    )
    dashboard_users_file: Path = Field(
        Path("var/users.toml"),
        description="The old TOML file of users, read only by burki-dashboard migrate-files "
        "(users live in the database).",
    )
    dashboard_tokens_file: Path = Field(
        Path("var/tokens.toml"),
        description="The old TOML file of API tokens (and embed-links.toml beside it), read "
        "only by burki-dashboard migrate-files.",
    )
    dashboard_audit_file: Path = Field(
        Path("var/audit.jsonl"),
        description="The old JSON-lines audit log, read only by burki-dashboard migrate-files "
        "(the audit log lives in the database).",
    )
    dashboard_audit_retention_days: int = Field(
        90, ge=1, description="Days audit entries are kept; older ones are pruned at start-up."
    )
    dashboard_session_secret: SecretStr | None = Field(
        None,
        description="Signs session cookies and embed links (32+ characters). Unset: random per "
        "process, so sessions end on restart and CLI embed links do not work.",
    )
    dashboard_session_secret_file: Path | None = Field(
        None, description="File holding the session secret; read once."
    )
    dashboard_session_idle_minutes: float = Field(
        30.0, gt=0, description="Minutes of inactivity before a session ends."
    )
    dashboard_session_max_hours: float = Field(
        12.0, gt=0, description="Hours after sign-in when a session ends regardless."
    )
    dashboard_embed_origins: str = Field(
        "",
        description="Comma-separated origins allowed to frame /embed/ pages "
        "(e.g. https://intranet.example.com); empty: none.",
    )
    dashboard_https: bool | None = Field(
        None,
        description="Served over HTTPS: Secure cookies and HSTS. Unset: decided per request "
        "from its scheme.",
    )
    dashboard_sso_user_header: str = Field(
        "X-Forwarded-User", description="SSO mode: the header carrying the user name."
    )
    dashboard_sso_role_header: str = Field(
        "X-Forwarded-Role",
        description="SSO mode: the header carrying the role, read only when "
        "DASHBOARD_SSO_ROLE_HEADER_ENABLED is true.",
    )
    dashboard_sso_role_header_enabled: bool = Field(
        False,
        description="SSO mode: take the role from the role header. Never where a roles file "
        "is configured: the file decides.",
    )
    dashboard_sso_roles_file: Path | None = Field(
        None,
        description="SSO mode: TOML file mapping user names to roles; when set it decides "
        "every role, and names it does not list get none.",
    )
    dashboard_trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses or networks of the reverse proxies whose "
        "X-Forwarded-For/-Proto (and, in SSO mode, user header) are believed; empty: none.",
    )
    dashboard_public_url: str = Field(
        "",
        description="The dashboard's public base URL (e.g. https://live.example.com), used in "
        "the embed links /admin makes; empty: the request's own URL when its host is "
        "DASHBOARD_HOST, else a relative link.",
    )
    dashboard_device_days: float = Field(
        30.0,
        ge=0,
        description="Days a browser's device cookie (given at a password sign-in) lets its "
        "user's right password through a lock on their address; 0: no device cookies.",
    )
    dashboard_signin_workers: int = Field(
        2, ge=1, le=64, description="Password checks (argon2) run at once."
    )
    dashboard_signin_queue: int = Field(
        8,
        ge=0,
        description="Sign-ins that may wait for a password check; beyond that they get 503 "
        "at once.",
    )
    dashboard_streams_per_session: int = Field(
        16, ge=1, description="Open streams per signed-in session, API token or embed link."
    )
    dashboard_streams_per_user: int = Field(
        64, ge=1, description="Open streams per user, over all their sessions."
    )
    dashboard_streams_total: int = Field(
        3000, ge=1, description="Open streams in total; more get 429."
    )
    dashboard_streams_per_request: int = Field(
        16,
        ge=1,
        le=64,
        description="Streams one multiplexed request (/api/events) may name; more get 400.",
    )
    dashboard_stream_recheck_minutes: float = Field(
        1.0,
        gt=0,
        description="Minutes between re-checks of an open stream's viewer; a signed-out, "
        "removed or demoted viewer's stream ends at the next one.",
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
    burki_allow_insecure: bool = Field(
        False,
        description="Allow ws:// and http:// to a Burki that is not on this machine "
        "(never in production).",
    )
    burki_ca_bundle: Path | None = Field(
        None, description="CA bundle (PEM) to verify a private Burki deployment's certificate."
    )
    dashboard_host: str = Field("127.0.0.1", description="Address the dashboard listens on.")
    dashboard_port: int = Field(8000, ge=0, le=65535, description="Port the dashboard listens on.")
    dashboard_log_level: str = Field(
        "info", description="Log level: debug, info, warning or error."
    )
    redis_url: SecretStr | None = Field(
        None,
        description="Redis of a cluster of dashboard nodes (redis://host:port/db). Unset: one "
        "process, nothing shared.",
    )
    dashboard_node_id: str = Field(
        "",
        pattern=r"^[A-Za-z0-9_.-]{0,64}$",
        description="This node's name in a cluster (logs, leases). "
        "Empty: host name and process id.",
    )
    dashboard_lease_seconds: float = Field(
        6.0,
        ge=1.0,
        le=60.0,
        description="Cluster: time to live of a stream's lease; a dead node's streams are taken "
        "over within it and a third more.",
    )
    redis_stream_entries: int = Field(
        20_000,
        ge=1000,
        description="Cluster: inputs kept in Redis per stream (a capped Redis Stream).",
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

    # -- the store (issue 24): one database for users, tokens, embed links, the audit log --
    database_url: SecretStr | None = Field(
        None,
        description="PostgreSQL of the dashboard's store (postgresql://user:password@host/db), "
        "what a cluster's nodes share. Unset: a SQLite file (DASHBOARD_DATABASE_FILE).",
    )
    dashboard_database_file: Path = Field(
        Path("var/burki-live.sqlite3"),
        description="The SQLite file of the store when DATABASE_URL is unset (created 0600).",
    )
    database_timeout: float = Field(
        5.0,
        gt=0,
        le=60,
        description="Seconds to wait for the database (connect, statement) before it counts "
        "as unreachable.",
    )

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            database_url(value.get_secret_value())  # ValueError, one line, no password
        return value

    @property
    def store_url(self) -> URL:
        """The store's database: DATABASE_URL, or the SQLite file."""
        if self.database_url is not None:
            return database_url(self.database_url.get_secret_value())
        return sqlite_url(self.dashboard_database_file)

    # -- end of the store's settings -----------------------------------------------------

    # -- history (issue 24): alerts, actions and summaries kept in the store ----------------
    history_alert_days: int = Field(
        90, ge=1, description="Days the history keeps alerts (who handled them too)."
    )
    history_action_days: int = Field(
        90, ge=1, description="Days the history keeps people's actions (ended, claimed, ...)."
    )
    history_summary_days: int = Field(
        365, ge=1, description="Days the history keeps the summary of each ended call and campaign."
    )
    history_queue: int = Field(
        10_000,
        ge=100,
        le=1_000_000,
        description="Records (alerts, actions, summaries) held in memory while the database "
        "is unreachable; past that, new ones are dropped and logged.",
    )

    @field_validator("burki_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("redaction_phone_region")
    @classmethod
    def _phone_region(cls, value: str) -> str:
        region = value.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError("must be a region code phonenumbers knows, such as US, GB or DE")
        return region

    @field_validator("dashboard_log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.lower() not in {"debug", "info", "warning", "error"}:
            raise ValueError("must be one of debug, info, warning, error")
        return value.lower()

    @field_validator("dashboard_public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if value and not (value.startswith(("http://", "https://")) and urlsplit(value).hostname):
            raise ValueError("must be an http:// or https:// URL with a host")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _parse_lists(self) -> Settings:
        """Parse each list setting once; the raw string stays the field, the typed value beside it.

        A bad entry is a one-line error that names the variable.
        """
        webhooks = self.webhook_endpoints.get_secret_value()
        self._alert_keywords = tuple(_parsed("alert_keywords", parse_rules, self.alert_keywords))
        weights = _parsed("attention_weights", lambda t: [parse_weights(t)], self.attention_weights)
        self._attention_weights = weights[0] if weights else Weights()
        if self.health_silence_alarm < self.health_silence_warn:
            raise ValueError("HEALTH_SILENCE_ALARM: must not be below HEALTH_SILENCE_WARN")
        self._webhook_endpoints = tuple(_parsed("webhook_endpoints", parse_endpoints, webhooks))
        origins = self.dashboard_embed_origins
        self._dashboard_embed_origins = tuple(
            _parsed("dashboard_embed_origins", parse_origins, origins)
        )
        proxies = self.dashboard_trusted_proxies
        self._dashboard_trusted_proxies = tuple(
            _parsed("dashboard_trusted_proxies", parse_networks, proxies)
        )
        roles = self.redaction_unredact_roles
        self._redaction_unredact_roles = frozenset(
            _parsed("redaction_unredact_roles", parse_roles, roles)
        )
        _parsed("alert_email_severities", _severities, self.alert_email_severities)
        for name in ("actions_end_call_roles", "actions_campaign_roles"):
            _parsed(name, parse_roles, getattr(self, name))
        return self

    @model_validator(mode="after")
    def _transport(self) -> Settings:
        if self.burki_base_url.startswith("http://") and not self.burki_allow_insecure:
            host = urlsplit(self.burki_base_url).hostname or ""
            if not is_loopback(host):
                raise ValueError(
                    "BURKI_BASE_URL: http:// to a Burki that is not on this machine sends the "
                    "key in clear; use https:// (or set BURKI_ALLOW_INSECURE=true)"
                )
        return self

    @model_validator(mode="after")
    def _alert_transport(self) -> Settings:
        """Alerts carry customer text and SMTP a password: never in clear to another machine."""
        password = self.smtp_password.get_secret_value()
        if self.smtp_security == "none" and password and not is_loopback(self.smtp_host):
            raise ValueError(
                "SMTP_SECURITY: none sends SMTP_PASSWORD in clear to a server that is not on "
                "this machine; use starttls or tls"
            )
        if self.webhook_allow_insecure:
            return self
        for number, endpoint in enumerate(self._webhook_endpoints, 1):
            parts = urlsplit(endpoint.url)
            if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
                raise ValueError(
                    f"WEBHOOK_ENDPOINTS: entry {number} is http:// to a host that is not on "
                    "this machine, so alerts travel in clear; use https:// (or set "
                    "WEBHOOK_ALLOW_INSECURE=true)"
                )
        return self

    @model_validator(mode="after")
    def _read_session_secret(self) -> Settings:
        secret_file = self.dashboard_session_secret_file
        if self.dashboard_session_secret is None and secret_file is not None:
            try:
                secret = secret_file.read_text().strip()
            except OSError as exc:
                raise ValueError(
                    f"DASHBOARD_SESSION_SECRET_FILE: cannot read ({exc.strerror})"
                ) from None
            object.__setattr__(self, "dashboard_session_secret", SecretStr(secret))
        secret_value = self.dashboard_session_secret
        if secret_value is not None and len(secret_value.get_secret_value()) < 32:
            raise ValueError("DASHBOARD_SESSION_SECRET: must be at least 32 characters")
        return self

    @model_validator(mode="after")
    def _read_key_file(self) -> Settings:
        if self.burki_api_key is None and self.burki_api_key_file is not None:
            try:
                key = self.burki_api_key_file.read_text().strip()
            except OSError as exc:
                raise ValueError(f"BURKI_API_KEY_FILE: cannot read ({exc.strerror})") from None
            if not key:
                raise ValueError("BURKI_API_KEY_FILE: the file is empty")
            object.__setattr__(self, "burki_api_key", SecretStr(key))
        return self

    @model_validator(mode="after")
    def _cluster(self) -> Settings:
        if self.redis_url is not None and self.dashboard_session_secret is None:
            raise ValueError(
                "REDIS_URL: a cluster needs DASHBOARD_SESSION_SECRET (or _FILE), the same on "
                "every node, or a session signed by one node is refused by the others"
            )
        return self

    @property
    def keyword_rules(self) -> tuple[KeywordRule, ...]:
        """``ALERT_KEYWORDS``, parsed."""
        return self._alert_keywords

    @property
    def weights(self) -> Weights:
        """``ATTENTION_WEIGHTS``, parsed over the defaults."""
        return self._attention_weights

    @property
    def webhooks(self) -> tuple[Endpoint, ...]:
        """``WEBHOOK_ENDPOINTS``, parsed (empty: no webhooks)."""
        return self._webhook_endpoints

    @property
    def embed_origins(self) -> tuple[str, ...]:
        """``DASHBOARD_EMBED_ORIGINS``, parsed."""
        return self._dashboard_embed_origins

    @property
    def trusted_proxies(self) -> tuple[Network, ...]:
        """``DASHBOARD_TRUSTED_PROXIES``, parsed."""
        return self._dashboard_trusted_proxies

    @property
    def unredact_roles(self) -> frozenset[Role]:
        """``REDACTION_UNREDACT_ROLES``, parsed (empty: nobody)."""
        return self._redaction_unredact_roles

    @property
    def email_route(self) -> Endpoint | None:
        """The e-mail route as one more endpoint of the dispatcher (None: no e-mail)."""
        if not self.alert_email_to.strip():
            return None
        return Endpoint(
            f"smtp://{self.smtp_host}:{self.smtp_port}",
            "",
            frozenset({"alert"}),
            "email",
            comma_list(self.alert_email_severities),
            comma_list(self.alert_email_kinds),
        )

    @property
    def end_call_roles(self) -> frozenset[Role]:
        """``ACTIONS_END_CALL_ROLES``, parsed (validated when the settings load)."""
        return frozenset(parse_roles(self.actions_end_call_roles))

    @property
    def campaign_roles(self) -> frozenset[Role]:
        """``ACTIONS_CAMPAIGN_ROLES``, parsed (validated when the settings load)."""
        return frozenset(parse_roles(self.actions_campaign_roles))

    @property
    def embed_links_file(self) -> Path:
        """Embed-link records: beside the tokens file, so every node that shares the tokens
        shares them (and their revocations) too."""
        return embed_links_file(self.dashboard_tokens_file)

    @property
    def demo(self) -> bool:
        """Demo mode: no key, so the built-in simulator stands in for Burki."""
        return self.burki_api_key is None

    @property
    def ws_base_url(self) -> str:
        return "ws" + self.burki_base_url.removeprefix("http")


def embed_links_file(tokens_file: Path) -> Path:
    return tokens_file.with_name("embed-links.toml")


def _parsed(name: str, parse: Callable[[str], list[T]], text: str) -> list[T]:
    """``parse(text)``; its ValueError named after the variable. Blank text: nothing."""
    if not text.strip():
        return []
    try:
        return parse(text)
    except ValueError as exc:
        raise ValueError(f"{name.upper()}: {exc}") from None


def _severities(text: str) -> list[str]:
    found = [part.strip().lower() for part in text.split(",") if part.strip()]
    if bad := [s for s in found if s not in SEVERITIES]:
        raise ValueError(f"unknown severity {bad[0][:20]!r} (low, medium, high)")
    return found


def comma_list(text: str) -> frozenset[str]:
    """The non-empty, stripped items of a comma-separated setting."""
    return frozenset(part.strip().lower() for part in text.split(",") if part.strip())


def parse_roles(text: str) -> list[Role]:
    """A comma-separated list of roles ("admin, supervisor"); ValueError naming a bad one."""
    try:
        return [parse_role(part) for part in text.split(",") if part.strip()]
    except StoreError as exc:
        raise ValueError(str(exc)) from None


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment (and overrides), or raise SettingsError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_one_line(exc)) from None


def _one_line(exc: ValidationError) -> str:
    error = exc.errors()[0]
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["loc"]:
        return f"{str(error['loc'][0]).upper()}: {message}"
    return message
