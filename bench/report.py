"""The results as one Markdown table: metrics by row; ours, naive, their ratio, the target.

The ratio is naive / ours for every row, so for costs (sockets, latency, CPU,
memory) a ratio above 1 says how many times cheaper our relay is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from bench.phases import IdleResult, LiveResult

KIB_PER_VIEWER_TARGET = 64.0
P99_TARGET_MS = 50.0
CPU_RATIO_TARGET = 3.0
IDLE_VIEWERS_TARGET = 2000
LIVE_VIEWERS_TARGET = 500
BUSY_MACHINE = 25.0
"""Other processes using more than this share of one core during a window skew it."""


@dataclass
class DesignResult:
    idle: IdleResult
    live: LiveResult


@dataclass
class Row:
    metric: str
    ours: str
    naive: str
    ratio: str = ""
    target: str = ""
    verdict: str = ""


def rows(ours: DesignResult, naive: DesignResult) -> list[Row]:
    return [*_socket_rows(ours, naive), *_memory_rows(ours, naive), *_live_rows(ours, naive)]


def _socket_rows(ours: DesignResult, naive: DesignResult) -> list[Row]:
    live, idle = ours.live, ours.idle
    return [
        _row(
            f"Upstream sockets per call, {live.viewers} live viewers",
            live.upstreams,
            naive.live.upstreams,
            "{:d}",
            "1 per stream",
            live.upstreams == 1,
        ),
        _row(
            f"Upstream sockets per call, {idle.reached} idle viewers (naive: {naive.idle.reached})",
            idle.upstreams,
            naive.idle.upstreams,
            "{:d}",
            "1 per stream",
            idle.upstreams == 1,
        ),
    ]


def _memory_rows(ours: DesignResult, naive: DesignResult) -> list[Row]:
    o, n = ours.idle, naive.idle
    full = o.wanted >= IDLE_VIEWERS_TARGET
    return [
        _row(
            "Idle viewers held by one proxy process",
            o.reached,
            n.reached,
            "{:d}",
            f">= {IDLE_VIEWERS_TARGET:,}",
            o.reached >= IDLE_VIEWERS_TARGET if full else None,
            higher_is_better=True,
        ),
        _row(
            f"RSS per idle viewer, KiB (slope {_span(o)}; naive {_span(n)})",
            o.kib_per_viewer,
            n.kib_per_viewer,
            "{:.1f}",
            f"<= {KIB_PER_VIEWER_TARGET:g} KiB",
            o.kib_per_viewer <= KIB_PER_VIEWER_TARGET if full else None,
        ),
        _row(
            "Proxy RSS at the most idle viewers, MiB",
            o.points[-1][1] / 1024,
            n.points[-1][1] / 1024,
            "{:.0f}",
        ),
    ]


def _live_rows(ours: DesignResult, naive: DesignResult) -> list[Row]:
    o, n = ours.live, naive.live
    full = o.viewers >= LIVE_VIEWERS_TARGET
    load = f"{o.viewers} viewers x {o.rate:g} ev/s"
    cpu_ratio = _ratio(o.cpu_per_1000("proxy"), n.cpu_per_1000("proxy"))

    def stat(key: str) -> Callable[[LiveResult], float]:
        return lambda r: float(r.stats[key])

    def per_viewer(key: str) -> Callable[[LiveResult], str]:
        def show(r: LiveResult) -> str:
            mean = r.stats[key] / max(1, r.stats["viewers"])
            return f"{mean:.2f} / {r.stats[key + '_max']}"

        return show

    return [
        _row(f"p50 added latency, ms ({load})", stat("p50_ms")(o), stat("p50_ms")(n), "{:.1f}"),
        _row(
            f"p99 added latency, ms ({load})",
            stat("p99_ms")(o),
            stat("p99_ms")(n),
            "{:.1f}",
            f"<= {P99_TARGET_MS:g} ms",
            o.stats["p99_ms"] <= P99_TARGET_MS if full else None,
        ),
        _row("p99.9 added latency, ms", stat("p999_ms")(o), stat("p999_ms")(n), "{:.1f}"),
        _row("max added latency, ms", stat("max_ms")(o), stat("max_ms")(n), "{:.1f}"),
        _row(
            "first viewer of each event, p50 latency, ms",
            stat("first_p50_ms")(o),
            stat("first_p50_ms")(n),
            "{:.1f}",
        ),
        Row(
            "fan-out spread (last - first viewer) per event, p50 / max, ms",
            *(f"{r.stats['spread_p50_ms']:.1f} / {r.stats['spread_max_ms']:.1f}" for r in (o, n)),
        ),
        _row(
            "Proxy CPU s per 1,000 delivered events (segments)",
            o.cpu_per_1000("proxy"),
            n.cpu_per_1000("proxy"),
            "{:.4f}",
            f">= {CPU_RATIO_TARGET:g}x below naive",
            cpu_ratio >= CPU_RATIO_TARGET if full else None,
        ),
        Row(
            "SSE frames written per delivered segment",
            *(f"{r.stats['frames'] / max(1, r.stats['delivered']):.2f}" for r in (o, n)),
        ),
        _row(
            "Proxy CPU s per 1,000 SSE frames written (any type)",
            o.cpu_per_1000("proxy", "frames"),
            n.cpu_per_1000("proxy", "frames"),
            "{:.4f}",
        ),
        _row("Proxy CPU, % of one core", o.utilisation("proxy"), n.utilisation("proxy"), "{:.1f}"),
        Row(
            "Proxy CPU in the kernel (stime), % of its CPU",
            *(f"{_share(r.cpu['proxy_sys'], r.cpu['proxy']):.0f}" for r in (o, n)),
        ),
        _row(
            "Simulator (Burki) CPU s per 1,000 delivered events",
            o.cpu_per_1000("simulator"),
            n.cpu_per_1000("simulator"),
            "{:.4f}",
        ),
        _row(
            "Viewer process CPU, % of one core",
            o.utilisation("viewers"),
            n.utilisation("viewers"),
            "{:.1f}",
        ),
        Row(
            "Other processes on the machine, % of one core (skews latency)",
            *(f"{r.utilisation('others'):.0f}" for r in (o, n)),
        ),
        Row(
            "Machine-wide softirq (loopback TCP) / hypervisor steal, % of one core",
            *(f"{r.utilisation('softirq'):.0f} / {r.utilisation('steal'):.0f}" for r in (o, n)),
        ),
        Row(
            f"Events delivered in the {o.window:.0f} s window (sent per viewer)",
            f"{o.stats['delivered']:,} ({o.stats['expected_per_viewer']})",
            f"{n.stats['delivered']:,} ({n.stats['expected_per_viewer']})",
        ),
        _text_row("Lost events per viewer (mean / max)", per_viewer("lost"), o, n, "0"),
        _text_row("Duplicated events per viewer (mean / max)", per_viewer("duplicates"), o, n, "0"),
        Row(
            "Viewers cut or disconnected in the window",
            str(o.stats["disconnected"]),
            str(n.stats["disconnected"]),
        ),
    ]


def _text_row(
    metric: str, show: Callable[[LiveResult], str], o: LiveResult, n: LiveResult, target: str
) -> Row:
    key = "lost" if "Lost" in metric else "duplicates"
    return Row(metric, show(o), show(n), "", target, _verdict(o.stats[key] == 0))


def _row(
    metric: str,
    ours: float,
    naive: float,
    fmt: str,
    target: str = "",
    met: bool | None = None,
    *,
    higher_is_better: bool = False,
) -> Row:
    ratio = _ratio(ours, naive)
    if higher_is_better and ratio:
        ratio = 1 / ratio
    shown = "" if math.isnan(ratio) else f"{ratio:,.1f}x"
    return Row(metric, _fmt(fmt, ours), _fmt(fmt, naive), shown, target, _verdict(met, target))


def _share(part: float, whole: float) -> float:
    return part / whole * 100 if whole else math.nan


def _ratio(ours: float, naive: float) -> float:
    if ours == 0 or math.isnan(ours) or math.isnan(naive):
        return math.nan
    return naive / ours


def _fmt(fmt: str, value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    return fmt.format(value) if "d" not in fmt else f"{int(value):,}"


def _verdict(met: bool | None, target: str = "x") -> str:
    if not target:
        return ""
    if met is None:
        return "not judged (quick run)"
    return "met" if met else "**missed**"


def _span(idle: IdleResult) -> str:
    steps = [p[0] for p in idle.points if p[0] > 0]
    return f"{steps[0]}->{steps[-1]}" if steps else "none"


def warnings(ours: DesignResult, naive: DesignResult) -> list[str]:
    found = []
    for name, result in (("ours", ours), ("naive", naive)):
        others = result.live.utilisation("others")
        if others > BUSY_MACHINE:
            found.append(
                f"WARNING: other processes used {others:.0f}% of a core during the {name} "
                "window: its latency and CPU numbers are skewed; rerun on a quiet machine "
                f"(top: {', '.join(f'{p} {s:.1f} s' for p, s in result.live.others)})"
            )
    return found


def markdown(table: list[Row]) -> str:
    head = "| metric | ours | naive | naive / ours | target | verdict |"
    lines = [head, "| --- | ---: | ---: | ---: | --- | --- |"]
    for row in table:
        cells = (row.metric, row.ours, row.naive, row.ratio, row.target, row.verdict)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
