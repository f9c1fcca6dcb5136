"""What the dashboard watches on its own: the monitor of every listed call and campaign."""

from __future__ import annotations

from pydantic import Field

from .base import Area


class WatchSettings(Area):
    monitor_enabled: bool = Field(
        True,
        description="Monitor every ongoing call and running campaign Burki lists, with no page "
        "open (alerts, webhooks, attention); false: a stream exists only while watched.",
    )
    monitor_max_streams: int = Field(
        1000,
        ge=0,
        description="Most streams one node monitors; past it the rest are logged, counted and "
        "named on /admin.",
    )
    monitor_open_rate: float = Field(
        10.0,
        gt=0,
        description="Most monitored streams opened a second (a start with hundreds of ongoing "
        "calls does not hammer Burki).",
    )
