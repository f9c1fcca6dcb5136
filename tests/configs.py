"""The rooms' config objects as the default settings build them (``webapp.configs``), for tests.

Each helper takes the fields a test changes; every other field is what the
settings' defaults give, so a test never writes a default of its own.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from webapp.alerts.callalerts import AlertConfig
from webapp.cluster.bus import BusConfig
from webapp.configs import (
    alert_config,
    bus_config,
    health_config,
    redaction_config,
    relay_config,
    upstream_config,
)
from webapp.relay.health import HealthConfig
from webapp.relay.redactor import RedactionConfig
from webapp.relay.stream import RelayConfig
from webapp.settings import Settings
from webapp.wire.upstream import UpstreamConfig

DEFAULTS = Settings()


def relay(**changes: Any) -> RelayConfig:
    return replace(relay_config(DEFAULTS), **changes)


def health(**changes: Any) -> HealthConfig:
    return replace(health_config(DEFAULTS), **changes)


def redaction(**changes: Any) -> RedactionConfig:
    return replace(redaction_config(DEFAULTS), **changes)


def alerts(**changes: Any) -> AlertConfig:
    return replace(alert_config(DEFAULTS), **changes)


def upstream(**changes: Any) -> UpstreamConfig:
    return replace(upstream_config(DEFAULTS), **changes)


def bus(node_id: str, lease_seconds: float, **changes: Any) -> BusConfig:
    return replace(bus_config(DEFAULTS, node_id), lease_seconds=lease_seconds, **changes)
