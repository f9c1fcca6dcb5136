"""``python -m bench.segmentbytes``: what one segment costs in SSE bytes, measured in process.

A call of ``--segments`` final segments (alerts and the attention score on, redaction off),
fed through the call's features (``CallFeatures``) and numbered and rendered by a replay
log, nothing else: frames and bytes per segment, and the CPU of deriving and rendering them.
Beside it, the id a multiplexed connection of ``--streams`` streams writes before each
frame (``webapp.delivery.cursor``). No sockets, no server: the figure of "A segment in one
event" (docs/benchmarks.md), repeatable on a busy machine.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from webapp.alerts.attention import Attention
from webapp.alerts.callalerts import CallAlerts
from webapp.calls.pipeline import CallFeatures
from webapp.configs import alert_config, health_config
from webapp.delivery import cursor
from webapp.relay.replaylog import ReplayLog
from webapp.settings import Settings
from webapp.wire.events import CallStatus, Transcript
from webapp.wire.streamkey import StreamKey

LINES = [
    ("user", "Hi, I am calling about the parcel I ordered last week, it has not arrived."),
    ("assistant", "I am sorry to hear that. Let me look up your order, one moment please."),
    ("user", "Sure. The order number should be in the confirmation e-mail I got."),
    ("assistant", "Thank you. I can see it left our warehouse on Tuesday and is on its way."),
    ("user", "This is really frustrating, I needed it for the weekend."),
    ("assistant", "I understand. I can arrange express delivery at no extra cost for you."),
]


def segments(n: int) -> float:
    """Feed ``n`` finals; print frames, bytes and CPU per segment; return bytes per segment."""
    settings = Settings()
    t0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    now = [t0.timestamp()]
    features = CallFeatures(
        "CA1",
        health_config(settings),
        alerts=CallAlerts(alert_config(settings)),
        attention=Attention(settings.weights),
        clock=lambda: now[0],
    )
    key, log = StreamKey.call("CA1"), ReplayLog(500)
    for _ in features.apply(CallStatus("CA1", "in-progress", t0, {"started_at": t0.isoformat()})):
        pass
    frames = wire = 0
    began = time.process_time()
    for i in range(n):
        speaker, text = LINES[i % len(LINES)]
        start = 3.0 * i
        now[0] = t0.timestamp() + start + 2.5
        at = t0 + timedelta(seconds=start + 2.4)
        said = Transcript("CA1", speaker, text, True, 0.9, start, start + 2.4, None, at)  # type: ignore[arg-type]
        for change in features.apply(said):
            frame = log.append(change, key)
            frames += 1
            wire += len(frame.wire)
    took = time.process_time() - began
    print(f"{n:,} segments: {frames / n:.2f} frames per segment, {wire / n:,.0f} bytes per")
    print(f"  segment (id and all), {took / n * 1e6:,.0f} us of CPU per segment to derive+render")
    return wire / n


def cursor_ids(streams: int, seq: int, frames: int = 2_000, viewers: int = 50) -> None:
    """The id before a frame of one of ``streams`` streams, each at about ``seq``, and the
    CPU of moving it: once per frame for each viewer of a multiplexed connection."""
    keys = [StreamKey.call(f"CA{i:04d}") for i in range(streams)]
    at = {key: f"{i:08x}-{seq + i}" for i, key in enumerate(keys)}
    said = [(keys[n % streams], f"{n % streams:08x}-{seq + n}") for n in range(frames)]
    index = {key: i for i, key in enumerate(keys)}
    compact = [[at[key] for key in keys] for _ in range(viewers)]
    began = time.process_time()
    for key, position in said:  # the compact form as jsonstream wrote it until 2026-12-07
        for mine in compact:
            mine[index[key]] = position
            wrote = (cursor.COMPACT + ",".join(mine)).encode()
    took = time.process_time() - began
    moves = frames * viewers
    print(f"multiplexed id, {streams} streams at seq ~{seq:,}, {viewers} viewers a frame:")
    print(f"  compact {len(wrote):,} bytes, {took / moves * 1e6:.2f} us a move")
    hashed = [cursor.Hashed(keys, at) for _ in range(viewers)]
    began = time.process_time()
    for key, position in said:
        for moving in hashed:
            wrote = moving.move(key, position)
    took = time.process_time() - began
    print(f"  hashed {len(wrote):,} bytes, {took / moves * 1e6:.2f} us a move")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--segments", type=int, default=2000)
    parser.add_argument("--streams", type=int, default=48)
    args = parser.parse_args()
    segments(args.segments)
    cursor_ids(args.streams, 1000)


if __name__ == "__main__":
    main()
