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
from typing import Any

from bench import nchan, phases, proxies, runs
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


Run = dict[str, ServerResult]  # one run: ours, and nchan when it ran


@dataclass(frozen=True)
class Metric:
    """One row of the table: how to read it from a server's result, and its goal."""

    name: str
    get: Callable[[ServerResult], float]
    fmt: str
    goal: str = ""
    judge: Callable[[float, float], bool] | None = None  # (ours, ours / nchan): met?
    versus: bool = False  # the goal is a ratio to nchan: not judged without nchan
    ok: Callable[[ServerResult], bool] = lambda result: True  # else the run missed it


def rows(plan: ScalePlan, found: list[Run]) -> list[Row]:
    """The table over one run or several: per load, ours and nchan and ours / nchan, each
    the median of the runs (a ratio: of the runs' own ratios), judged against the issue's
    goals in every run and at the median (``bench.runs``)."""
    return [_row(metric, found) for metric in metrics(plan)]


def _row(metric: Metric, found: list[Run]) -> Row:
    ours = [metric.get(run["ours"]) for run in found]
    ref = [metric.get(run["nchan"]) if "nchan" in run else math.nan for run in found]
    each = runs.ratios(ours, ref)
    a, b, ratio = runs.median(ours), runs.median(ref), runs.median(each)
    shown = "" if math.isnan(ratio) else f"{ratio:.2f}x"
    band = runs.spread(each)
    if shown and metric.versus and len(found) > 1 and band is not None:
        shown += f" ({band[0]:.2f}-{band[1]:.2f}x)"
    return Row(
        metric.name,
        _fmt(metric.fmt, a),
        _fmt(metric.fmt, b),
        shown,
        metric.goal,
        _judged(metric, found, ours, each, a, ratio),
    )


def _judged(
    metric: Metric,
    found: list[Run],
    ours: list[float],
    each: list[float],
    a: float,
    ratio: float,
) -> str:
    judge = metric.judge
    if not metric.goal or judge is None or math.isnan(ratio if metric.versus else a):
        return ""
    ok = [metric.ok(run["ours"]) for run in found]
    per_run = [
        fine and not math.isnan(r if metric.versus else x) and judge(x, r)
        for fine, x, r in zip(ok, ours, each, strict=True)
    ]
    return runs.verdict(per_run, judge(a, ratio) and 2 * sum(ok) >= len(ok))


def metrics(plan: ScalePlan) -> list[Metric]:
    """Every row: idle memory, then each load's."""
    idle = Metric(
        f"RSS per idle viewer, KiB (slope {plan.idle_steps[0] if plan.idle_steps else 0}"
        f"->{plan.idle_steps[-1] if plan.idle_steps else 0})",
        lambda r: r.idle.kib_per_viewer,
        "{:.1f}",
        f"<= {KIB_GOAL:g} KiB at {plan.idle_steps[-1] if plan.idle_steps else 0:,}",
        lambda a, ratio: a <= KIB_GOAL,
        ok=lambda r: r.idle.reached >= r.idle.wanted,
    )
    found = [idle]
    for i, load in enumerate(plan.loads):
        found += _load_metrics(load, i)
    return found


def _load_metrics(load: Load, i: int) -> list[Metric]:
    def at(get: Callable[[phases.LiveResult], float]) -> Callable[[ServerResult], float]:
        return lambda result: get(result.loads[i]) if i < len(result.loads) else math.nan

    def stat(key: str) -> Callable[[ServerResult], float]:
        return at(lambda r: float(r.stats[key]))

    def m(name: str, get: Callable[[ServerResult], float], fmt: str, **goal: Any) -> Metric:
        return Metric(f"{load.name}: {name}", get, fmt, **goal)

    within = {"goal": f"<= {RATIO_GOAL:g}x nchan", "judge": _within, "versus": True}
    big = load.viewers >= 2000
    return [
        m(
            "proxy CPU s per 1,000 delivered events",
            at(lambda r: r.cpu_per_1000("proxy")),
            "{:.4f}",
            **within,
        ),
        m("first viewer of each event, p50 latency, ms", stat("first_p50_ms"), "{:.1f}"),
        m("p50 added latency, ms", stat("p50_ms"), "{:.1f}"),
        m("p99 added latency, ms", stat("p99_ms"), "{:.1f}", **(within if big else {})),
        m("max added latency, ms", stat("max_ms"), "{:.1f}"),
        m(
            "events whose last viewer waited > 150 ms",
            stat("late_events"),
            "{:.0f}",
            **({"goal": "0", "judge": lambda a, r: a <= LATE_GOAL} if big else {}),
        ),
        m(
            "lost / duplicated events (all viewers)",
            at(lambda r: float(r.stats["lost"] + r.stats["duplicates"])),
            "{:.0f}",
            goal="0",
            judge=lambda a, r: a == 0,
        ),
        m("events delivered in the window", stat("delivered"), "{:,.0f}"),
        m(
            "SSE events received per delivered event (ours: a segment's figures ride in it)",
            at(_events_per_delivery),
            "{:.2f}",
        ),
        m("SSE bytes received per delivered event", at(_bytes_per_delivery), "{:,.0f}"),
        m("proxy CPU, % of one core", at(lambda r: r.utilisation("proxy")), "{:.0f}"),
        m(
            "load generator (viewers) CPU, % of one core",
            at(lambda r: r.utilisation("viewers")),
            "{:.0f}",
        ),
        m(
            "nchan publisher bridge CPU, % of one core",
            at(lambda r: r.utilisation("publisher")),
            "{:.0f}",
        ),
        m("other processes, % of one core", at(lambda r: r.utilisation("others")), "{:.0f}"),
    ]


def _within(ours: float, ratio: float) -> bool:
    return ratio <= RATIO_GOAL


def _events_per_delivery(r: phases.LiveResult) -> float:
    """SSE events (any type) a viewer received per marked event: nchan relays Burki's one
    message; we add the frames the relay derives from it."""
    delivered = r.stats["delivered"]
    return float(r.stats["frames"] / delivered) if delivered else math.nan


def _bytes_per_delivery(r: phases.LiveResult) -> float:
    delivered = r.stats["delivered"]
    return float(r.stats.get("sse_bytes", math.nan) / delivered) if delivered else math.nan


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
