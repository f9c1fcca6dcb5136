"""Past one machine: the Redis that several dashboard nodes share."""

from __future__ import annotations

from pydantic import Field, SecretStr

from .base import Area


class ClusterSettings(Area):
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
