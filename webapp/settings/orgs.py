"""Organisations: the master key their Burki keys are sealed under, and how often the org
book is read again (docs/organisations.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator

from webapp.orgs.sealing import MasterKey, MasterKeyError

from .base import Area


class OrgSettings(Area):
    burki_master_key: SecretStr | None = Field(
        None,
        description="Fernet key(s) sealing the organisations' Burki keys in the store, "
        "comma-separated, newest first (seal with the newest, open with any). Unset (and no "
        "file, and no BURKI_API_KEY): demo mode.",
    )
    burki_master_key_file: Path | None = Field(
        None, description="File holding BURKI_MASTER_KEY (e.g. a mounted secret); read once."
    )
    org_refresh_seconds: float = Field(
        30.0,
        gt=0,
        description="Seconds between two reads of the organisation book (an organisation "
        "added, removed or re-keyed on another node or by the CLI takes effect within it; "
        "at once after a change made on this node's /admin).",
    )

    @model_validator(mode="after")
    def _read_master_key(self) -> Self:
        given = self.burki_master_key
        if given is not None and not given.get_secret_value().strip():
            object.__setattr__(self, "burki_master_key", None)  # set but blank: unset
        source = self.burki_master_key_file
        if self.burki_master_key is None and source is not None:
            try:
                text = source.read_text().strip()
            except OSError as exc:
                raise ValueError(f"BURKI_MASTER_KEY_FILE: cannot read ({exc.strerror})") from None
            object.__setattr__(self, "burki_master_key", SecretStr(text))
        if self.burki_master_key is not None:
            try:
                MasterKey.from_text(self.burki_master_key.get_secret_value())
            except MasterKeyError as exc:
                raise ValueError(str(exc)) from None
        return self

    @property
    def master_key(self) -> MasterKey | None:
        """The master key(s), parsed; None when none is set."""
        found = self.burki_master_key
        return MasterKey.from_text(found.get_secret_value()) if found is not None else None
