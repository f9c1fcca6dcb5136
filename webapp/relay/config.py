"""What a relayed stream is built with: its settings, and what it feeds besides its viewers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from webapp.calls.health import HealthConfig
from webapp.calls.pipeline import Alerts, Attention
from webapp.calls.redactor import RedactionConfig
from webapp.relay.bulletin import Bulletin
from webapp.relay.ports import Sharing, Webhooks


@dataclass(frozen=True, slots=True)
class Integrations:
    """What a stream feeds besides its viewers: call alerts, the webhook dispatcher, the
    lists' bulletin (alerts raised, a call gone quiet), a cluster."""

    alerts: Callable[[], Alerts] | None = None  # a call's alert state, made for each call
    webhooks: Webhooks | None = None
    bulletin: Bulletin | None = None
    sharing: Sharing | None = None  # several nodes on Redis: the stream's inputs are shared
    redaction: RedactionConfig | None = None
    attention: Attention | None = None
    # A call's assistant by name, when Burki's status names only its id (the open-source).
    assistant_name: Callable[[int], Awaitable[str]] | None = None


@dataclass(frozen=True, slots=True)
class RelayConfig:
    grace_period: float = 30.0
    linger: float = 300.0
    log_size: int = 500
    viewer_queue: int = 256
    poll_interval: float = 5.0
    poll_after_failures: int = 3
    progress_interval: float = 0.25  # at most about four progress renders a second
    heartbeat: float = 15.0  # seconds of silence before an SSE response sends a heartbeat
    stall_timeout: float = 5.0  # seconds a viewer's socket may accept nothing before it is cut
    replay_quiet: float = 1.0  # an ended call's replay is over after this long without a frame
    no_activity: float = 600.0  # seconds without a segment before a call shows "no activity"
    health: HealthConfig = field(default_factory=HealthConfig)
