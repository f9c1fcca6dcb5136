"""The relay: how long streams stay, what they keep, how viewers are fed; the directory."""

from __future__ import annotations

from pydantic import Field

from .base import Area


class RelaySettings(Area):
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
        "nothing for that long has heard one; one sweep of every viewer twice a period).",
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
