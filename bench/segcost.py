"""``python -m bench.segcost``: what one segment of a long call costs its stream, in process.

A call's stream, built as the dashboard's defaults build it (alerts, the attention score,
redaction), is fed ``--segments`` final segments straight in, with ``--viewers``
subscribers (their queues emptied after each segment) and the page views named by
``--views`` (``call,captions,card``) rendering every frame. The CPU time of each
segment's feed is taken alone: no network, no other process, so a cost that grows with
the call's length shows without the machine's noise (issue 27: the long call's bench
moves by a fifth from row to row on a shared machine). Prints the median per block of
the call and the last block's over the first's.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta

from webapp.alerts.attention import Attention
from webapp.configs import redaction_config, relay_config
from webapp.pages import views
from webapp.parts import alert_factory
from webapp.relay.config import Integrations
from webapp.relay.metrics import Metrics
from webapp.relay.stream import Stream
from webapp.relay.subscriber import Subscriber
from webapp.settings import Settings
from webapp.simulator.drivers import PACED_LINES
from webapp.wire.events import Transcript
from webapp.wire.streamkey import StreamKey

VIEWS = {"call": views.CALL, "captions": views.CAPTIONS, "card": views.CARD}
SID = "CA-segcost"


def said(n: int, start: datetime) -> Transcript:
    """The ``n``-th final of the call, 1.5 s apart, timed, as the simulator says them."""
    at = start + timedelta(seconds=1.5 * n)
    line = PACED_LINES[n % len(PACED_LINES)]
    speaker = "user" if n % 2 else "assistant"
    return Transcript(SID, speaker, f"n={n} {line}", True, 0.99, 1.5 * n, 1.5 * n + 1.2, at, at)


async def _retire(stream: Stream) -> None:
    return None


async def measure(segments: int, viewers: int, shown: list[str]) -> list[float]:
    """Each segment's feed, in CPU seconds, in the call's order."""
    settings = Settings()
    integrations = Integrations(
        alerts=alert_factory(settings),
        attention=Attention(settings.weights),
        redaction=redaction_config(settings),
    )
    key = StreamKey.call(SID)
    stream = Stream(key, None, relay_config(settings), Metrics(), _retire, integrations)  # type: ignore[arg-type]
    subs = [Subscriber(capacity=1_000_000) for _ in range(viewers)]
    try:
        for name in shown:
            stream.watch_view(VIEWS[name])
        for sub in subs:
            stream.attach(sub, None)
        start = datetime.now(UTC)
        costs = []
        for n in range(segments):
            segment = said(n, start)
            began = time.process_time()
            stream.feed(segment)
            costs.append(time.process_time() - began)
            for sub in subs:
                await sub.get_batch()  # what a viewer takes: its queue stays short
        return costs
    finally:
        await stream.close()


def table(costs: list[float], blocks: int) -> str:
    size = max(len(costs) // blocks, 1)
    lines = ["| segments | median us | mean us |", "| --- | ---: | ---: |"]
    medians = []
    for first in range(0, len(costs) - size + 1, size):
        block = costs[first : first + size]
        medians.append(statistics.median(block))
        lines.append(
            f"| {first + 1:,}-{first + size:,} | {medians[-1] * 1e6:.0f} "
            f"| {statistics.fmean(block) * 1e6:.0f} |"
        )
    lines.append(f"\nLast block's median over the first's: {medians[-1] / medians[0]:.2f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.segcost", description=__doc__)
    parser.add_argument("--segments", type=int, default=2_400)
    parser.add_argument("--viewers", type=int, default=20)
    parser.add_argument("--views", default="", help="page views rendering: call,captions,card")
    parser.add_argument("--blocks", type=int, default=12)
    args = parser.parse_args(argv)
    shown = [v for v in args.views.split(",") if v]
    costs = asyncio.run(measure(args.segments, args.viewers, shown))
    print(
        f"A call's stream fed {args.segments:,} segments in process, {args.viewers} viewers, "
        f"page views: {', '.join(shown) or 'none'}; CPU time of each segment's feed.\n"
    )
    print(table(costs, args.blocks))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
