"""The cost of redaction per final segment, measured in this process (no sockets).

The corpus is every line of the simulator's scripted conversations (ordinary
speech, a card read over two segments, an e-mail, a phone number), plus lines
with planted personal data in each form the detector knows (grouped, dashed,
spoken digits, IBAN, SSN) and a few long utterances. Each segment goes through a
:class:`~webapp.relay.redactor.CallRedactor` exactly as the relay feeds it, so
the time includes the hold across segment boundaries; the detection core alone
(:func:`webapp.relay.pii.redact`) is timed too.
"""

from __future__ import annotations

import re
import statistics
import time
from dataclasses import dataclass

from webapp.configs import redaction_config
from webapp.relay.pii import redact
from webapp.relay.redactor import CallRedactor
from webapp.settings import Settings
from webapp.simulator.dialogue import SCENARIOS
from webapp.wire.events import Speaker, Transcript

PLANTED = (
    "Sure, my card number is 4111 1111 1111 1111 and it expires in March.",
    "It's five five five five, five five five five, five five five five, four four four four.",
    "My social security number is 123-45-6789.",
    "You can reach me at ada.lovelace@example.com or on (415) 555-0132.",
    "The IBAN is GB82 WEST 1234 5698 7654 32, thank you.",
    "I ordered 3 items on the 4th for $19.99 each, order 42.",
)
LONG = " ".join(text for s in SCENARIOS[:3] for _, text in s.turns)  # ~1,000 characters
# The stall bench's burst (issue 20) sends segments of ~16 KB: what one of those costs.
HUGE_CHARS = 16_000
HUGE = (LONG + " ") * (HUGE_CHARS // (len(LONG) + 1) + 1)
# Numbers read in pieces, the other speaker between them: every final is searched with the
# speaker's number so far in front of it, and the pieces already shown are masked again.
_DIGITS = ["four", *["one"] * 15]  # a card read digit by digit, a segment each
PIECES: tuple[tuple[Speaker, str], ...] = (
    *[
        (who, text)
        for group in ("4111", "1111", "1111", "1111 and I want a lawyer")
        for who, text in (("user", group), ("assistant", "Mm-hm."))
    ],
    ("user", "My social is 123"),
    ("assistant", "Okay."),
    ("user", "45"),
    ("assistant", "Yes?"),
    ("user", "6789."),
    *[("user", digit) for digit in _DIGITS],
    ("user", "My card number is 4111 1111"),
    ("user", "1111 1111, and the code on the back is 737."),
)


@dataclass(frozen=True)
class Timing:
    segments: int
    median_us: float
    p99_us: float
    max_us: float


@dataclass(frozen=True)
class Round:
    """One live phase of the A/B comparison: p99 added latency, and the share of a core
    other processes used meanwhile (the noise it was measured in)."""

    number: int
    redaction: bool
    p99_ms: float
    others_pct: float
    cpu_per_1000: float  # proxy CPU seconds per 1,000 delivered segments: less load-sensitive
    in_relay: tuple[float, float] | None = None  # redaction p50, p99 in the relay (bucket, ms)


@dataclass(frozen=True)
class RedactionResult:
    streamed: Timing  # CallRedactor.feed, per final segment
    core: Timing  # pii.redact alone, per segment
    corpus: int
    pieces: Timing | None = None  # CallRedactor.feed, per final of numbers read in pieces
    huge: Timing | None = None  # CallRedactor.feed, per final of ~16 KB


def corpus() -> list[tuple[Speaker, str]]:
    lines: list[tuple[Speaker, str]] = []
    for scenario in SCENARIOS:
        lines += [("user" if who == "user" else "assistant", text) for who, text in scenario.turns]
    lines += [("user", text) for text in PLANTED]
    lines.append(("user", LONG))
    return lines


def run(rounds: int) -> RedactionResult:
    lines = corpus()
    segments = [Transcript("CAbench", speaker, text) for speaker, text in lines]
    streamed: list[float] = []
    core: list[float] = []
    pieces: list[float] = []
    huge: list[float] = []
    read = [Transcript("CAbench", speaker, text) for speaker, text in PIECES]
    for _ in range(rounds):
        redactor = CallRedactor(redaction_config(Settings()))
        for segment in read:
            began = time.perf_counter_ns()
            redactor.feed(segment)
            pieces.append((time.perf_counter_ns() - began) / 1000)
            redactor.release()  # a pause past the hold after each piece: the worst case
        redactor = CallRedactor(redaction_config(Settings()))
        for segment in segments:
            began = time.perf_counter_ns()
            redactor.feed(segment)
            streamed.append((time.perf_counter_ns() - began) / 1000)
        redactor.release()
        huge += _huge(CallRedactor(redaction_config(Settings())), 20)
        for _, text in lines:
            began = time.perf_counter_ns()
            redact(text)
            core.append((time.perf_counter_ns() - began) / 1000)
    return RedactionResult(
        _summary(streamed), _summary(core), len(lines), _summary(pieces), _summary(huge)
    )


def _huge(redactor: CallRedactor, count: int) -> list[float]:
    """Microseconds per final of ~16 KB of ordinary speech (each one a different text, as
    in a burst: nothing is reused from the one before)."""
    took = []
    for n in range(count):
        text = f"n={n} {HUGE}"[:HUGE_CHARS]
        segment = Transcript("CAbench", "user", text, segment_start=float(n))
        began = time.perf_counter_ns()
        redactor.feed(segment)
        took.append((time.perf_counter_ns() - began) / 1000)
    return took


def _summary(samples: list[float]) -> Timing:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return Timing(len(samples), statistics.median(ordered), p99, ordered[-1])


def in_relay(metrics: bytes) -> tuple[float, float] | None:
    """The p50 and p99 of ``burki_live_redaction_seconds`` (upper bounds of their buckets,
    in ms) from a /metrics page; None when it holds no observation."""
    buckets = [
        (float(le), float(count))
        for le, count in re.findall(
            rb'burki_live_redaction_seconds_bucket\{le="([^"]+)"\} (\S+)', metrics
        )
    ]
    total = buckets[-1][1] if buckets else 0.0
    if not total:
        return None

    def quantile(q: float) -> float:
        return next(le for le, count in buckets if count >= q * total) * 1000

    return quantile(0.5), quantile(0.99)


def markdown(result: RedactionResult, rounds: list[Round]) -> str:
    rows = [
        "| redaction | segments timed | median, us | p99, us | max, us | target | verdict |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    timings = [("as the relay feeds it", result.streamed), ("detection core", result.core)]
    if result.pieces is not None:
        timings.append(("numbers read in pieces, a pause after each", result.pieces))
    for name, timing in timings:
        verdict = "met" if timing.median_us <= 1000 else "**missed**"
        rows.append(
            f"| {name} | {timing.segments:,} | {timing.median_us:.0f} | {timing.p99_us:.0f} "
            f"| {timing.max_us:.0f} | median <= 1,000 us | {verdict} |"
        )
    if result.huge is not None:  # no target of its own: what the stall burst's p99 pays
        huge = result.huge
        rows.append(
            f"| a final of {HUGE_CHARS:,} characters | {huge.segments:,} | {huge.median_us:.0f} "
            f"| {huge.p99_us:.0f} | {huge.max_us:.0f} | (see the stall section) | |"
        )
    if not rounds:
        return "\n".join(rows)
    rows += [
        "",
        "| A/B round | redaction | relay p99 added latency, ms | redaction in the relay, "
        "p50 / p99, ms (at most) | proxy CPU s per 1,000 delivered | other processes, "
        "% of a core |",
        "| ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    rows += [
        f"| {r.number} | {'on' if r.redaction else 'off'} | {r.p99_ms:.1f} "
        f"| {_quantiles(r.in_relay)} | {r.cpu_per_1000:.4f} | {r.others_pct:.0f} |"
        for r in rounds
    ]
    on = statistics.median(r.p99_ms for r in rounds if r.redaction)
    off = statistics.median(r.p99_ms for r in rounds if not r.redaction)
    change = (on - off) / off * 100 if off > 0 else 0.0
    verdict = "met" if change <= 10 else "**missed**"
    cpu_on = statistics.median(r.cpu_per_1000 for r in rounds if r.redaction)
    cpu_off = statistics.median(r.cpu_per_1000 for r in rounds if not r.redaction)
    cpu_change = (cpu_on - cpu_off) / cpu_off * 100 if cpu_off > 0 else 0.0
    rows += [
        "",
        f"Relay p99 added latency, median of the rounds, redaction on / off: {on:.1f} / "
        f"{off:.1f} ms, {change:+.1f} % (target <= +10 %: {verdict}).",
        f"Proxy CPU per 1,000 delivered segments, median, on / off: {cpu_on:.4f} / "
        f"{cpu_off:.4f} s, {cpu_change:+.1f} %.",
    ]
    return "\n".join(rows)


def _quantiles(pair: tuple[float, float] | None) -> str:
    return "" if pair is None else f"{pair[0]:g} / {pair[1]:g}"
