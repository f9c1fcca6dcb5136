"""The rooms' config objects, built from the settings: where each field gets its value.

A config dataclass (``RelayConfig``, ``HealthConfig`` ...) has no default for a
field that a setting gives: the setting's default is the only one, and this
module copies it over (``tests/test_configs.py`` fails on a field that has a
default of its own and follows a setting). Defaults left in a config class are
fixed tuning that no setting names.
"""

from __future__ import annotations

from webapp.alerts.callalerts import AlertConfig
from webapp.calls.health import HealthConfig
from webapp.calls.pii import Policy
from webapp.calls.redactor import RedactionConfig
from webapp.cluster.bus import BusConfig
from webapp.history.keeper import Retention
from webapp.relay.config import RelayConfig
from webapp.settings import Settings
from webapp.watch.monitor import MonitorConfig
from webapp.wire.upstream import UpstreamConfig


def upstream_config(settings: Settings) -> UpstreamConfig:
    key = settings.burki_api_key
    return UpstreamConfig(
        ws_base_url=settings.ws_base_url,
        api_key=key.get_secret_value() if key is not None else "",
        auth_mode=settings.burki_auth_mode,
        keepalive_interval=settings.burki_keepalive_interval,
        pong_timeout=settings.burki_pong_timeout,
        ping_timeout=settings.burki_ping_timeout,
        connect_timeout=settings.burki_connect_timeout,
        backoff_cap=settings.burki_backoff_cap,
        auth_retry=settings.burki_auth_retry,
        max_frame_bytes=settings.burki_max_frame_bytes,
        ca_bundle=str(settings.burki_ca_bundle) if settings.burki_ca_bundle else None,
        callers=settings.redaction_caller_numbers,
        compression=settings.burki_compression,
    )


def relay_config(settings: Settings) -> RelayConfig:
    return RelayConfig(
        grace_period=settings.relay_grace_period,
        linger=settings.relay_linger,
        log_size=settings.relay_log_size,
        viewer_queue=settings.relay_viewer_queue,
        poll_interval=settings.relay_poll_interval,
        poll_after_failures=settings.relay_poll_after_failures,
        heartbeat=settings.relay_heartbeat,
        stall_timeout=settings.relay_stall_timeout,
        replay_quiet=settings.relay_replay_quiet,
        no_activity=settings.relay_no_activity_minutes * 60.0,
        health=health_config(settings),
    )


def health_config(settings: Settings) -> HealthConfig:
    return HealthConfig(
        silence_warn=settings.health_silence_warn,
        silence_alarm=settings.health_silence_alarm,
        slow_response=settings.health_slow_response,
        long_call=settings.health_long_call_minutes * 60,
    )


def alert_config(settings: Settings) -> AlertConfig:
    return AlertConfig(
        segment_threshold=settings.alert_segment_threshold,
        average_threshold=settings.alert_average_threshold,
        window=settings.alert_window,
        rules=settings.keyword_rules,
    )


def redaction_config(settings: Settings) -> RedactionConfig:
    strict = settings.redaction_strict_digits
    policy = Policy(strict=strict > 0, min_digits=strict, region=settings.redaction_phone_region)
    return RedactionConfig(
        enabled=settings.redaction_enabled,
        policy=policy,
        keep_raw=bool(settings.unredact_roles),  # raw text is kept only if someone may see it
        hold=settings.redaction_hold,
    )


def bus_config(settings: Settings, node_id: str) -> BusConfig:
    """The cluster's bus as ``node_id`` (``REDIS_URL`` requires the session secret)."""
    secret = settings.dashboard_session_secret
    return BusConfig(
        node_id=node_id,
        lease_seconds=settings.dashboard_lease_seconds,
        log_entries=settings.redis_stream_entries,
        secret=secret.get_secret_value() if secret is not None else "",
    )


def monitor_config(settings: Settings) -> MonitorConfig:
    return MonitorConfig(
        enabled=settings.monitor_enabled,
        max_streams=settings.monitor_max_streams,
        open_rate=settings.monitor_open_rate,
    )


def history_retention(settings: Settings) -> Retention:
    return Retention(
        alerts=settings.history_alert_days,
        actions=settings.history_action_days,
        summaries=settings.history_summary_days,
    )
