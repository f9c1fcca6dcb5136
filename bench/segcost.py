"""What one big final segment costs the proxy, stage by stage, in this process (no sockets).

The stall bench's burst (issue 20) sends 300 segments of ~16 KB at 1,000 a second; for the
healthy viewers' p99 to stay under 250 ms the proxy must finish each in well under 2 ms of
CPU, everything included. This times each stage of one segment's path with the default
settings (redaction on and off): Burki's frame parsed (``wire.normalise``), then the
stream's :meth:`~webapp.relay.stream.Stream.feed` with six viewers attached, split by a
profile into redaction, state, alerts (sentiment, keywords), health and figures, the
frame's render and replay log, and the offer to the viewers. Two texts: what the bench
sends (a marker and a filler sentence repeated), and 16 KB of the simulator's speech with
its numbers (a card in two parts, an e-mail, spoken digits).

``python -m bench.segcost [--rounds N] [--profile]``
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bench.redaction import HUGE
from bench.simproc import FILLER
from webapp.alerts.attention import Attention
from webapp.configs import redaction_config, relay_config
from webapp.parts import alert_factory
from webapp.relay.config import Integrations
from webapp.relay.metrics import Metrics
from webapp.relay.stream import Stream
from webapp.relay.subscriber import Subscriber
from webapp.settings import Settings
from webapp.wire.events import CallStatus
from webapp.wire.normalise import parse
from webapp.wire.streamkey import StreamKey

SIZE = 16_000
VIEWERS = 6
# Where a function's time goes, by the module it lives in (the profile's own split).
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("redaction", ("webapp/calls/redactor", "webapp/calls/numbers", "webapp/calls/pii")),
    ("redaction", ("webapp/calls/addresses", "phonenumbers")),
    ("sentiment (VADER)", ("webapp/alerts/sentiment", "vaderSentiment")),
    ("keywords, alerts", ("webapp/alerts/",)),
    ("state", ("webapp/calls/callstate",)),
    ("health, figures", ("webapp/calls/health", "webapp/calls/callhealth", "webapp/calls/heal")),
    ("render, replay log", ("webapp/relay/frames", "webapp/relay/replaylog", "json/")),
    ("offer to viewers", ("webapp/relay/subscriber",)),
)


def bench_text(n: int) -> str:
    """What ``bench.simproc.burst`` sends as its n-th big segment."""
    filler = (FILLER * (SIZE // len(FILLER) + 1))[:SIZE]
    return f"t={time.time():.6f} n={n} {filler}"


def speech_text(n: int) -> str:
    """16 KB of the simulator's speech: numbers, a card in two parts, an e-mail, digits."""
    return f"n={n} " + HUGE[:SIZE]


def frame_of(sid: str, text: str, n: int) -> str:
    data = {
        "content": text,
        "speaker": "user",
        "is_final": True,
        "confidence": 0.99,
        "segment_start": float(n),
        "segment_end": n + 0.5,
        "created_at": datetime.now(UTC).isoformat(),
    }
    frame = {"type": "transcript", "call_sid": sid, "data": data}
    return json.dumps(frame | {"timestamp": datetime.now(UTC).isoformat()})


async def _retire(stream: Stream) -> None:
    return None


def stream_for(redaction: bool) -> tuple[Stream, list[Subscriber]]:
    settings = Settings(redaction_enabled=redaction)
    integrations = Integrations(
        alerts=alert_factory(settings),
        attention=Attention(settings.weights),
        redaction=redaction_config(settings),
    )
    config = replace(relay_config(settings), progress_interval=0.0)
    key = StreamKey.call("CAbench")
    stream = Stream(key, None, config, Metrics(), _retire, integrations)  # type: ignore[arg-type]
    subs = [Subscriber(capacity=100_000) for _ in range(VIEWERS)]
    for sub in subs:
        stream.attach(sub, None)
    t0 = datetime.now(UTC)
    stream.feed(CallStatus("CAbench", "in-progress", t0, {"started_at": t0.isoformat()}))
    return stream, subs


def _drain(subs: list[Subscriber]) -> None:
    for sub in subs:
        sub._queue.clear()


def measure(redaction: bool, text_of: Callable[[int], str], rounds: int) -> dict[str, float]:
    """Median microseconds of this thread's CPU for each part, over ``rounds`` segments
    (after a warm-up)."""
    stream, subs = stream_for(redaction)
    parse_us, feed_us = [], []
    for n in range(rounds + 20):
        raw = frame_of("CAbench", text_of(n), n)
        began = time.thread_time()
        event = parse(raw)
        parsed = time.thread_time()
        stream.feed(event)  # type: ignore[arg-type]
        done = time.thread_time()
        _drain(subs)
        if n >= 20:
            parse_us.append((parsed - began) * 1e6)
            feed_us.append((done - parsed) * 1e6)
    stream.alarms.close()
    return {"parse": statistics.median(parse_us), "feed": statistics.median(feed_us)}


def breakdown(redaction: bool, text_of: Callable[[int], str], rounds: int) -> dict[str, float]:
    """Microseconds per segment by stage (a profile of ``rounds`` feeds: its overhead
    inflates the small calls, so read the shares, not the sum)."""
    stream, subs = stream_for(redaction)
    events = [parse(frame_of("CAbench", text_of(n), n)) for n in range(rounds + 20)]
    for event in events[:20]:
        stream.feed(event)  # type: ignore[arg-type]
    _drain(subs)
    profile = cProfile.Profile()
    for event in events[20:]:
        profile.enable()
        stream.feed(event)  # type: ignore[arg-type]
        profile.disable()
        _drain(subs)
    stream.alarms.close()
    stats = pstats.Stats(profile)
    out: dict[str, float] = {}
    total = 0.0
    for (path, _, _), row in stats.stats.items():  # type: ignore[attr-defined]
        own = row[2]  # tottime: the function's own time
        total += own
        stage = next((name for name, parts in STAGES if any(p in path for p in parts)), "other")
        out[stage] = out.get(stage, 0.0) + own
    out = {k: v / rounds * 1e6 for k, v in out.items()}
    out["total (profiled)"] = total / rounds * 1e6
    return out


def top(redaction: bool, text_of: Callable[[int], str], rounds: int, lines: int = 25) -> None:
    stream, subs = stream_for(redaction)
    events = [parse(frame_of("CAbench", text_of(n), n)) for n in range(rounds)]
    profile = cProfile.Profile()
    for event in events:
        profile.enable()
        stream.feed(event)  # type: ignore[arg-type]
        profile.disable()
        _drain(subs)
    stream.alarms.close()
    pstats.Stats(profile).sort_stats("tottime").print_stats(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--profile", action="store_true", help="print the top functions too")
    args = parser.parse_args(argv)
    texts: dict[str, Callable[[int], str]] = {"bench": bench_text, "speech": speech_text}
    print(f"load average {os.getloadavg()[0]:.1f}; {args.rounds} segments of ~16 KB each")
    rows: list[tuple[str, dict[str, Any]]] = []
    for name, text_of in texts.items():
        for redaction in (True, False):
            label = f"{name}, redaction {'on' if redaction else 'off'}"
            timed = measure(redaction, text_of, args.rounds)
            parts = breakdown(redaction, text_of, args.rounds)
            rows.append((label, timed | parts))
            if args.profile:
                print(f"--- {label}")
                top(redaction, text_of, args.rounds)
    stages = sorted({k for _, row in rows for k in row} - {"parse", "feed"})
    print("| text | parse us | feed us | " + " | ".join(stages) + " |")
    for label, row in rows:
        cells = " | ".join(f"{row.get(s, 0.0):.0f}" for s in stages)
        print(f"| {label} | {row['parse']:.0f} | {row['feed']:.0f} | {cells} |")


async def _in_loop(argv: list[str] | None) -> None:
    main(argv)  # the viewers' offers look for the running loop's flush


if __name__ == "__main__":
    asyncio.run(_in_loop(None))
