"""What one big final segment costs the proxy, stage by stage, in this process (no sockets).

The stall bench's burst (issue 20) sends 300 segments of ~16 KB at 1,000 a second; for the
healthy viewers' p99 to stay under 250 ms the proxy must finish each in well under 2 ms of
CPU, everything included. This times each stage of one segment's path with the default
settings: Burki's frame parsed (``wire.normalise``), then the stream's
:meth:`~webapp.relay.stream.Stream.feed` with six viewers attached (redaction on and
off: everything the stream does for it, the offer to the viewers included), and the stages
that read the whole text, each alone (the redactor, the caller's sentiment, the keyword
rules, the frame's JSON). Figures are this thread's CPU time, medians. Two texts: what the bench
sends (a marker and a filler sentence repeated), and 16 KB of the simulator's speech with
its numbers (a card in two parts, an e-mail, spoken digits).

``python -m bench.bigsegment [--rounds N] [--profile]``
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

from bench.redaction import HUGE
from bench.simproc import FILLER
from webapp.alerts.attention import Attention
from webapp.alerts.keywords import KeywordMatcher
from webapp.alerts.sentiment import SentimentScorer
from webapp.calls.redactor import CallRedactor
from webapp.configs import redaction_config, relay_config
from webapp.parts import alert_factory
from webapp.relay.config import Integrations
from webapp.relay.metrics import Metrics
from webapp.relay.stream import Stream
from webapp.relay.subscriber import Subscriber
from webapp.settings import Settings
from webapp.wire.events import CallStatus, Transcript
from webapp.wire.normalise import parse
from webapp.wire.streamkey import StreamKey

SIZE = 16_000
VIEWERS = 6
STAGES = ("redaction", "sentiment", "keywords", "JSON")


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


def parts(text_of: Callable[[int], str], rounds: int) -> dict[str, float]:
    """Median microseconds of this thread's CPU for the stages that read the whole text,
    each alone: the redactor's feed, the caller's sentiment, the keyword rules, the
    frame's JSON."""
    settings = Settings()
    redactor = CallRedactor(redaction_config(settings))
    scorer, matcher = SentimentScorer(), KeywordMatcher(settings.keyword_rules)
    said = [
        Transcript("CAbench", "user", text_of(n), at=datetime.now(UTC), segment_start=float(n))
        for n in range(rounds)
    ]
    timed: dict[str, Callable[[Transcript], object]] = {
        "redaction": redactor.feed,
        "sentiment": lambda t: scorer.score(t.content),
        "keywords": lambda t: matcher.matches("user", t.content),
        "JSON": lambda t: json.dumps({"content": t.content}, ensure_ascii=False),
    }
    out: dict[str, float] = {}
    for name, step in timed.items():
        took = []
        for segment in said:
            began = time.thread_time()
            step(segment)
            took.append((time.thread_time() - began) * 1e6)
        out[name] = statistics.median(took)
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
    print("| text | parse us | feed us, redaction on | feed us, off | " + " | ".join(STAGES) + " |")
    print("|---|---:|---:|---:|" + "---:|" * len(STAGES))
    for name, text_of in texts.items():
        on, off = measure(True, text_of, args.rounds), measure(False, text_of, args.rounds)
        alone = parts(text_of, args.rounds)
        cells = " | ".join(f"{alone[stage]:.0f}" for stage in STAGES)
        print(f"| {name} | {on['parse']:.0f} | {on['feed']:.0f} | {off['feed']:.0f} | {cells} |")
        if args.profile:
            for redaction in (True, False):
                print(f"--- {name}, redaction {'on' if redaction else 'off'}")
                top(redaction, text_of, args.rounds)


async def _in_loop(argv: list[str] | None) -> None:
    main(argv)  # the viewers' offers look for the running loop's flush


if __name__ == "__main__":
    asyncio.run(_in_loop(None))
