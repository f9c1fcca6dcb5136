"""Fan-out at scale: our relay beside nginx + nchan, three loads and 10,000 idle viewers.

The same simulator, the same viewers' process and the same loads for both
servers, one after the other in one run. nchan gets one channel per Burki call,
fed by a bridge (``bench.nchan``) that publishes each upstream message's bytes
over nchan's HTTP publish endpoint. The ratio column is ours / nchan: for costs,
how many times nchan's we spend; the issue's goal is <= 1.5x (issue 27).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from bench import nchan, phases, proxies
from bench.control import Child
from bench.report import Row, _fmt

RATIO_GOAL = 1.5  # issue 27: CPU per delivered segment and the p99 at 2,000 x 4 ev/s
LATE_GOAL = 0
KIB_GOAL = 20.0


@dataclass(frozen=True)
class Load:
    name: str
    viewers: int
    calls: int
    rate: float
    """Final segments per second on each call."""


@dataclass(frozen=True)
class ScalePlan:
    idle_steps: list[int]
    loads: list[Load]
    settle: float
    warmup: float
    window: float
    drain: float

    @classmethod
    def full(cls) -> ScalePlan:
        loads = [
            Load("500 viewers x 2 ev/s", 500, 1, 2.0),
            Load("2,000 viewers x 4 ev/s", 2000, 1, 4.0),
            Load("200 viewers x 48 calls at 1 ev/s (wallboard)", 200, 48, 1.0),
        ]
        return cls([1000, 10_000], loads, 3.0, 3.0, 20.0, 2.0)

    @classmethod
    def quick(cls) -> ScalePlan:
        loads = [
            Load("100 viewers x 2 ev/s", 100, 1, 2.0),
            Load("300 viewers x 4 ev/s", 300, 1, 4.0),
            Load("20 viewers x 8 calls at 1 ev/s", 20, 8, 1.0),
        ]
        return cls([100, 500], loads, 1.0, 1.0, 5.0, 1.0)


@dataclass
class ServerResult:
    idle: phases.IdleResult
    loads: list[phases.LiveResult] = field(default_factory=list)


def run(
    plan: ScalePlan,
    sim: Child,
    clients: Child,
    base_url: str,
    viewer_queue: int,
    say: Callable[[str], None],
    only: str | None = None,
) -> tuple[dict[str, ServerResult], list[str]]:
    """Each server through the idle steps and the loads; nchan is skipped when absent."""
    results: dict[str, ServerResult] = {}
    notes: list[str] = []
    servers: list[tuple[str, Child]] = []
    if only in (None, "ours"):
        servers.append(("ours", Child("ours-proxy", proxies.main, "ours", base_url, viewer_queue)))
    if only == "ours":
        notes.append("nchan reference not run (--servers ours)")
    elif (why := nchan.missing()) is None:
        servers.append(("nchan", Child("nchan", nchan.main, base_url)))
    else:
        notes.append(f"nchan reference SKIPPED: {why} (apt-get install nginx libnginx-mod-nchan)")
        say(f"nchan reference skipped: {why}")
    for name, child in servers:
        with child as px:
            path: Callable[[list[str]], str] = nchan.stream_path if name == "nchan" else _ours_path
            pid = px.call("pid") if name == "nchan" else None
            procs = phases.Procs(sim, clients, px, px.call("port"), px.call("token"), path, pid)
            say(f"scale {name}: idle viewers {plan.idle_steps}")
            idle = phases.idle(procs, plan.idle_steps, plan.settle) if plan.idle_steps else None
            result = ServerResult(idle or phases.IdleResult(0))
            for load in plan.loads:
                say(f"scale {name}: {load.name}")
                live = phases.live(
                    procs,
                    load.viewers,
                    load.rate,
                    plan.warmup,
                    plan.window,
                    plan.drain,
                    calls=load.calls,
                )
                say(f"scale {name}: p99 {live.stats['p99_ms']:.1f} ms")
                result.loads.append(live)
                notes += _load_notes(name, load, live)
            results[name] = result
    return results, notes


def _ours_path(sids: list[str]) -> str:
    return proxies.stream_path("ours", sids)


def _pauses(found: dict[int, tuple[int, float, float]]) -> str:
    return "; ".join(
        f"gen{g}: {n} (longest {longest:.1f} ms, total {total:.0f} ms)"
        for g, (n, longest, total) in sorted(found.items())
    )


def _load_notes(name: str, load: Load, live: phases.LiveResult) -> list[str]:
    notes = []
    if name == "ours":
        notes.append(
            f"ours, {load.name}: GC collections while the viewers connected: "
            f"{_pauses(live.gc_connecting) or 'none'}; in the window: "
            f"{_pauses(live.gc_pauses) or 'none'}"
        )
    others = ", ".join(f"{p} {s:.2f} s" for p, s in live.others)
    notes.append(f"{name}, {load.name}: other processes busiest: {others or 'none'}")
    for error, count in live.errors.items():
        notes.append(f"{name}, {load.name}: {count} viewers failed to connect: {error}")
    return notes


def rows(plan: ScalePlan, ours: ServerResult, ref: ServerResult | None) -> list[Row]:
    """The table: per load, ours and nchan and ours / nchan, against the issue's goals."""
    table = [_idle_row(ours, ref)]
    for i, load in enumerate(plan.loads):
        mine = ours.loads[i]
        theirs = ref.loads[i] if ref is not None else None
        table += _load_rows(load, mine, theirs)
    return table


def _idle_row(ours: ServerResult, ref: ServerResult | None) -> Row:
    mine = ours.idle.kib_per_viewer
    theirs = ref.idle.kib_per_viewer if ref else math.nan
    steps = [p[0] for p in ours.idle.points if p[0] > 0] or [0]
    return Row(
        f"RSS per idle viewer, KiB (slope {steps[0]}->{steps[-1]})",
        _fmt("{:.1f}", mine),
        _fmt("{:.1f}", theirs),
        _ratio(mine, theirs),
        f"<= {KIB_GOAL:g} KiB at {ours.idle.wanted:,}",
        _verdict(mine <= KIB_GOAL and ours.idle.reached >= ours.idle.wanted),
    )


def _load_rows(load: Load, mine: phases.LiveResult, theirs: phases.LiveResult | None) -> list[Row]:
    def both(get: Callable[[phases.LiveResult], float], fmt: str) -> tuple[str, str, float, float]:
        a, b = get(mine), get(theirs) if theirs else math.nan
        return _fmt(fmt, a), _fmt(fmt, b), a, b

    def row(
        metric: str,
        get: Callable[[phases.LiveResult], float],
        fmt: str,
        goal: str = "",
        met: Callable[[float, float], bool] | None = None,
    ) -> Row:
        a_s, b_s, a, b = both(get, fmt)
        judged = goal and met is not None and not math.isnan(b if "nchan" in goal else a)
        verdict = _verdict(met(a, b)) if judged and met is not None else ""
        return Row(f"{load.name}: {metric}", a_s, b_s, _ratio(a, b), goal, verdict)

    within = lambda a, b: a <= RATIO_GOAL * b  # noqa: E731
    stat = lambda key: lambda r: float(r.stats[key])  # noqa: E731
    return [
        row(
            "proxy CPU s per 1,000 delivered events",
            lambda r: r.cpu_per_1000("proxy"),
            "{:.4f}",
            f"<= {RATIO_GOAL:g}x nchan",
            within,
        ),
        row("first viewer of each event, p50 latency, ms", stat("first_p50_ms"), "{:.1f}"),
        row("p50 added latency, ms", stat("p50_ms"), "{:.1f}"),
        row(
            "p99 added latency, ms",
            stat("p99_ms"),
            "{:.1f}",
            f"<= {RATIO_GOAL:g}x nchan" if load.viewers >= 2000 else "",
            within,
        ),
        row("max added latency, ms", stat("max_ms"), "{:.1f}"),
        row(
            "events whose last viewer waited > 150 ms",
            stat("late_events"),
            "{:.0f}",
            "0" if load.viewers >= 2000 else "",
            lambda a, b: a <= LATE_GOAL,
        ),
        row(
            "lost / duplicated events (all viewers)",
            lambda r: float(r.stats["lost"] + r.stats["duplicates"]),
            "{:.0f}",
            "0",
            lambda a, b: a == 0,
        ),
        row("events delivered in the window", stat("delivered"), "{:,.0f}"),
        row(
            "SSE events received per delivered event (ours: a segment's figures ride in it)",
            _events_per_delivery,
            "{:.2f}",
        ),
        row("SSE bytes received per delivered event", _bytes_per_delivery, "{:,.0f}"),
        row("proxy CPU, % of one core", lambda r: r.utilisation("proxy"), "{:.0f}"),
        row(
            "load generator (viewers) CPU, % of one core",
            lambda r: r.utilisation("viewers"),
            "{:.0f}",
        ),
        row(
            "nchan publisher bridge CPU, % of one core",
            lambda r: r.utilisation("publisher"),
            "{:.0f}",
        ),
        row("other processes, % of one core", lambda r: r.utilisation("others"), "{:.0f}"),
    ]


def _events_per_delivery(r: phases.LiveResult) -> float:
    """SSE events (any type) a viewer received per marked event: nchan relays Burki's one
    message; we add the frames the relay derives from it."""
    delivered = r.stats["delivered"]
    return float(r.stats["frames"] / delivered) if delivered else math.nan


def _bytes_per_delivery(r: phases.LiveResult) -> float:
    delivered = r.stats["delivered"]
    return float(r.stats.get("sse_bytes", math.nan) / delivered) if delivered else math.nan


def _ratio(ours: float, ref: float) -> str:
    if math.isnan(ours) or math.isnan(ref) or ref == 0:
        return ""
    return f"{ours / ref:.2f}x"


def _verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def markdown(table: list[Row]) -> str:
    lines = [
        "| metric | ours | nchan | ours / nchan | goal | verdict |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for r in table:
        lines.append(
            "| " + " | ".join((r.metric, r.ours, r.naive, r.ratio, r.target, r.verdict)) + " |"
        )
    return "\n".join(lines)
