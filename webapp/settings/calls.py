"""What is derived from a call: its health and the redaction of personal data."""

from __future__ import annotations

from typing import Self

import phonenumbers
from pydantic import Field, PrivateAttr, field_validator, model_validator

from webapp.access.users import Role
from webapp.relay.pii import STANDARD
from webapp.wire.caller import CallerShown

from .base import Area, parse_roles, parsed


class CallSettings(Area):
    _redaction_unredact_roles: frozenset[Role] = PrivateAttr(frozenset())

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
        STANDARD.region,
        description="Region (ISO 3166 code) whose phone numbers are recognised without "
        "a +country code.",
    )
    redaction_hold: float = Field(
        2.0,
        ge=0,
        description="Seconds a final segment ending in a number may wait for the speaker's "
        "next segment, which may complete it.",
    )

    @field_validator("redaction_phone_region")
    @classmethod
    def _phone_region(cls, value: str) -> str:
        region = value.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError("must be a region code phonenumbers knows, such as US, GB or DE")
        return region

    @model_validator(mode="after")
    def _parse_calls(self) -> Self:
        if self.health_silence_alarm < self.health_silence_warn:
            raise ValueError("HEALTH_SILENCE_ALARM: must not be below HEALTH_SILENCE_WARN")
        roles = self.redaction_unredact_roles
        self._redaction_unredact_roles = frozenset(
            parsed("redaction_unredact_roles", parse_roles, roles)
        )
        return self

    @property
    def unredact_roles(self) -> frozenset[Role]:
        """``REDACTION_UNREDACT_ROLES``, parsed (empty: nobody)."""
        return self._redaction_unredact_roles
