"""The one typed settings object, built from the environment in one place.

Every field is read from the environment variable of the same name in upper
case (``burki_base_url`` <- ``BURKI_BASE_URL``). Every field has a default and a
help line (its ``description``); docs/configuration.md lists them all and a test
keeps the two in step. The fields are written by area, one module each (Burki upstream,
relay, calls, alerts, access, serving, cluster, watch); ``Settings`` is all of them,
and checks here what spans areas.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError, model_validator

from webapp.wire.upstream import AuthMode

from .access import AccessSettings, embed_links_file
from .alerts import AlertSettings
from .base import PROJECT_ROOT, SettingsError, comma_list, parse_roles
from .calls import CallSettings
from .cluster import ClusterSettings
from .orgs import OrgSettings
from .relay import RelaySettings
from .server import ServerSettings
from .store import StoreSettings
from .upstream import BurkiSettings
from .watch import WatchSettings

__all__ = [
    "PROJECT_ROOT",
    "AuthMode",
    "Settings",
    "SettingsError",
    "comma_list",
    "embed_links_file",
    "load_settings",
    "parse_roles",
]


class Settings(
    BurkiSettings,
    RelaySettings,
    CallSettings,
    AlertSettings,
    AccessSettings,
    ServerSettings,
    ClusterSettings,
    WatchSettings,
    StoreSettings,
    OrgSettings,
):
    @model_validator(mode="after")
    def _cluster(self) -> Settings:
        if self.redis_url is not None and self.dashboard_session_secret is None:
            raise ValueError(
                "REDIS_URL: a cluster needs DASHBOARD_SESSION_SECRET (or _FILE), the same on "
                "every node, or a session signed by one node is refused by the others"
            )
        return self

    @property
    def demo(self) -> bool:
        """Demo mode: no Burki key and no master key (no organisation of the store can be
        opened), so the built-in simulator stands in for Burki."""
        return self.burki_api_key is None and self.burki_master_key is None


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
