"""Access: who signs in and how, sessions, tokens, embeds, audit, caps, and who may act."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator

from webapp.access.netaddr import Network, parse_networks
from webapp.access.secheaders import parse_origins
from webapp.access.users import Role

from .base import Area, parse_roles, parsed

AuthModeDashboard = Literal["password", "sso"]


class AccessSettings(Area):
    _dashboard_embed_origins: tuple[str, ...] = PrivateAttr(())
    _dashboard_trusted_proxies: tuple[Network, ...] = PrivateAttr(())

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
        description="SSO mode: TOML file mapping user names to roles ([roles]: in every "
        "organisation; [orgs.<slug>]: in one); when set it decides every role, and names it "
        "does not list get none.",
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
        "removed or demoted viewer's stream ends at the next one (up to a twentieth of the "
        "period late).",
    )

    @field_validator("dashboard_public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if value and not (value.startswith(("http://", "https://")) and urlsplit(value).hostname):
            raise ValueError("must be an http:// or https:// URL with a host")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _parse_access(self) -> Self:
        origins = self.dashboard_embed_origins
        self._dashboard_embed_origins = tuple(
            parsed("dashboard_embed_origins", parse_origins, origins)
        )
        proxies = self.dashboard_trusted_proxies
        self._dashboard_trusted_proxies = tuple(
            parsed("dashboard_trusted_proxies", parse_networks, proxies)
        )
        for name in ("actions_end_call_roles", "actions_campaign_roles"):
            parsed(name, parse_roles, getattr(self, name))
        return self

    @model_validator(mode="after")
    def _read_session_secret(self) -> Self:
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

    @property
    def embed_origins(self) -> tuple[str, ...]:
        """``DASHBOARD_EMBED_ORIGINS``, parsed."""
        return self._dashboard_embed_origins

    @property
    def trusted_proxies(self) -> tuple[Network, ...]:
        """``DASHBOARD_TRUSTED_PROXIES``, parsed."""
        return self._dashboard_trusted_proxies

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


def embed_links_file(tokens_file: Path) -> Path:
    return tokens_file.with_name("embed-links.toml")
