"""The history's cost: what following a stream's frames adds to the relay's path, and how
fast the recorder writes to SQLite (``python -m bench.history``; no sockets).

The hot path is :meth:`webapp.history.recording.Recording.observe`, called for every frame
a stream emits: timed per frame over a call's typical mix (transcript, metrics, an alert
now and then). The recorder is timed writing alerts into a fresh SQLite file in batches,
as it does after an outage.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from webapp.history.recording import Recording
from webapp.store.database import sqlite_url
from webapp.store.recorder import Recorder
from webapp.store.records import AlertRecord
from webapp.store.store import open_store
from webapp.wire.streamkey import StreamKey


@dataclass
class FakeStream:
    key: StreamKey
    runs_upstream: bool = True
    assistant_hint: str | None = "Support bot"

    def __hash__(self) -> int:
        return id(self)


@dataclass(frozen=True)
class Frame:
    type: str
    data: dict[str, Any]


METRICS = {
    "latency": {"median": 0.8, "worst": 2.1},
    "silence": {"longest": 4.0, "warn_count": 1},
    "interruptions": {"total": 2},
    "talk": {"user_share": 0.4},
    "length": 60.0,
    "attention": {"score": 30, "reasons": [{"text": "slow AI", "points": 30}]},
}


def frames(n: int) -> list[Frame]:
    mix = []
    for i in range(n):
        if i % 50 == 49:
            mix.append(Frame("alert", {"id": f"a-{i}", "kind": "keyword", "severity": "high",
                                       "message": "said x", "excerpt": "x", "at": ""}))  # fmt: skip
        elif i % 2:
            mix.append(Frame("metrics", METRICS))
        else:
            mix.append(Frame("transcript", {"segment": {"content": "hello", "is_final": True}}))
    return mix


async def observe_cost(n: int = 20_000) -> tuple[float, float]:
    """Median and p99 microseconds per frame of ``Recording.observe``."""
    with tempfile.TemporaryDirectory() as folder:
        store = await open_store(sqlite_url(Path(folder) / "b.sqlite3"))
        recorder = Recorder(store.history, limit=n)
        recording = Recording(recorder)
        stream = FakeStream(StreamKey.call("CAbench"))
        times = []
        for frame in frames(n):
            start = time.perf_counter_ns()
            recording.observe(stream, frame)  # type: ignore[arg-type]
            times.append((time.perf_counter_ns() - start) / 1000)
        await store.close()
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99)]


async def write_rate(n: int = 20_000) -> float:
    """Alerts per second the recorder writes to SQLite, from a full queue."""
    at = datetime(2026, 12, 7, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as folder:
        store = await open_store(sqlite_url(Path(folder) / "b.sqlite3"))
        recorder = Recorder(store.history, limit=n)
        for i in range(n):
            recorder.offer(AlertRecord("CA1", f"a-{i}", at + timedelta(seconds=i), "keyword",
                                       "high", "said x", "an excerpt of some length"))  # fmt: skip
        start = time.perf_counter()
        recorder.start()
        await recorder.drained()
        elapsed = time.perf_counter() - start
        await recorder.close()
        await store.close()
    return n / elapsed


async def main() -> None:
    median, p99 = await observe_cost()
    rate = await write_rate()
    print(f"observe per frame: median {median:.1f} us, p99 {p99:.1f} us")
    print(f"recorder to SQLite: {rate:,.0f} alerts/s (batches of 200)")


if __name__ == "__main__":
    asyncio.run(main())
