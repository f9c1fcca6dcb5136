"""What a relayed stream is built with: its settings, and what it feeds besides its viewers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from webapp.calls.health import HealthConfig
from webapp.calls.pipeline import Alerts, Attention
from webapp.calls.redactor import RedactionConfig
from webapp.relay.bulletin import Bulletin
from webapp.relay.ports import History, Sharing, Webhooks
from webapp.wire.streamkey import StreamKey


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
    assistant_name: Callable[[StreamKey, int], Awaitable[str]] | None = None  # of its org
    history: History | None = None  # what a shift leaves behind (alerts, actions, summaries)


@dataclass(frozen=True, slots=True)
class RelayConfig:
    """The relay's settings (``RELAY_*``, built by ``webapp.configs``: no defaults here)."""

    grace_period: float
    linger: float
    log_size: int
    viewer_queue: int
    poll_interval: float
    poll_after_failures: int
    heartbeat: float  # seconds of silence before an SSE response sends a heartbeat
    stall_timeout: float  # seconds a viewer's socket may accept nothing before it is cut
    replay_quiet: float  # an ended call's replay is over after this long without a frame
    no_activity: float  # seconds without a segment before a call shows "no activity"
    health: HealthConfig
    progress_interval: float = 0.25  # at most about four progress renders a second (no setting)
