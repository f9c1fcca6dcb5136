"""What every area of the settings shares: the source, the error, the list parsers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic_settings import BaseSettings, SettingsConfigDict

from webapp.access.users import Role, StoreError, parse_role

T = TypeVar("T")

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent


class SettingsError(Exception):
    """A setting has a bad value; the message is one line naming the variable."""


class Area(BaseSettings):
    """One area's settings; ``Settings`` is all of them (each field from its variable)."""

    model_config = SettingsConfigDict(
        case_sensitive=False, extra="ignore", frozen=True, hide_input_in_errors=True
    )


def parsed(name: str, parse: Callable[[str], list[T]], text: str) -> list[T]:
    """``parse(text)``; its ValueError named after the variable. Blank text: nothing."""
    if not text.strip():
        return []
    try:
        return parse(text)
    except ValueError as exc:
        raise ValueError(f"{name.upper()}: {exc}") from None


def comma_list(text: str) -> frozenset[str]:
    """The non-empty, stripped items of a comma-separated setting."""
    return frozenset(part.strip().lower() for part in text.split(",") if part.strip())


def parse_roles(text: str) -> list[Role]:
    """A comma-separated list of roles ("admin, supervisor"); ValueError naming a bad one."""
    try:
        return [parse_role(part) for part in text.split(",") if part.strip()]
    except StoreError as exc:
        raise ValueError(str(exc)) from None
