"""Alerts: sentiment and keywords, attention, and where alerts go (webhooks, e-mail)."""

from __future__ import annotations

from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, PrivateAttr, SecretStr, model_validator

from webapp.access.netaddr import is_loopback
from webapp.alerts.attention import DEFAULT_WEIGHTS, Weights, parse_weights
from webapp.alerts.endpoints import SEVERITIES, Endpoint, parse_endpoints
from webapp.alerts.endpoints import org as endpoint_org
from webapp.alerts.keywords import KeywordRule, parse_rules

from .base import Area, comma_list, parsed


class AlertSettings(Area):
    # The list settings, parsed once by _parse_alerts (read them through the properties).
    _alert_keywords: tuple[KeywordRule, ...] = PrivateAttr(())
    _attention_weights: Weights = PrivateAttr(Weights())
    _webhook_endpoints: tuple[Endpoint, ...] = PrivateAttr(())

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
    alert_email_org: str = Field(
        "",
        description="The one organisation (its slug) whose alerts go by e-mail; empty: every "
        "organisation's.",
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

    @model_validator(mode="after")
    def _parse_alerts(self) -> Self:
        """Parse each list setting once; the raw string stays the field, the typed value beside it.

        A bad entry is a one-line error that names the variable.
        """
        webhooks = self.webhook_endpoints.get_secret_value()
        self._alert_keywords = tuple(parsed("alert_keywords", parse_rules, self.alert_keywords))
        weights = parsed("attention_weights", lambda t: [parse_weights(t)], self.attention_weights)
        self._attention_weights = weights[0] if weights else Weights()
        self._webhook_endpoints = tuple(parsed("webhook_endpoints", parse_endpoints, webhooks))
        parsed("alert_email_severities", _severities, self.alert_email_severities)
        email_org = self.alert_email_org.strip()
        parsed("alert_email_org", lambda t: [endpoint_org({"org": t}, "e-mail")], email_org)
        return self

    @model_validator(mode="after")
    def _alert_transport(self) -> Self:
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
            self.alert_email_org.strip(),
        )


def _severities(text: str) -> list[str]:
    found = [part.strip().lower() for part in text.split(",") if part.strip()]
    if bad := [s for s in found if s not in SEVERITIES]:
        raise ValueError(f"unknown severity {bad[0][:20]!r} (low, medium, high)")
    return found
