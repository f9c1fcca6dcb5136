"""``python -m bench``: our relay against the naive design, and beside nginx + nchan at scale.

The simulator, the proxy under test and the viewers each run in their own
process, so the proxy's CPU time and memory are its own. The proxy process is
started afresh for each design; the simulator and the viewers are shared.
Prints its parts (and writes them to ``bench/results.md``): ours against the
naive design (``bench.report``), the redaction costs (``bench.redaction``),
ours beside nginx + nchan on three loads and 10,000 idle viewers (``bench.scale``;
``--runs N``: the medians of N runs, ``bench.runs``), healthy viewers' latency beside a
stalled one through a burst (``bench.stall``), a long call (``bench.longcall``) and the
cost of monitoring (``bench.monitoring``).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib.util
import re
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import webapp
from bench import (
    cluster,
    longcall,
    monitoring,
    phases,
    proxies,
    redaction,
    report,
    scale,
    simproc,
    stall,
    viewers,
)
from bench.control import Child
from bench.procstat import load_average, machine, raise_nofile, source_version

RESULTS = Path(__file__).with_name("results.md")


@dataclass(frozen=True)
class Plan:
    idle_steps: list[int]
    settle: float
    live_viewers: int
    rate: float
    warmup: float
    window: float
    drain: float
    viewer_queue: int = 256
    redaction_rounds: int = 200
    ab_rounds: int = 3  # live phases with redaction on and off, alternated

    @classmethod
    def full(cls) -> Plan:
        return cls([100, 500, 1000, 2000], 2.0, 500, 2.0, 3.0, 20.0, 2.0)

    @classmethod
    def quick(cls) -> Plan:
        return cls([100, 300], 1.0, 100, 2.0, 1.0, 5.0, 1.0, redaction_rounds=20, ab_rounds=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a ~30 s smoke run, small sizes")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the table")
    parser.add_argument(
        "--redaction", action="store_true", help="only the redaction costs (no design comparison)"
    )
    parser.add_argument(
        "--part",
        choices=("all", "naive", "scale", "stall", "longcall", "monitoring"),
        default="all",
        help="run only one part (stall: a stalled viewer through a burst; longcall: one call"
        " of 60 minutes, 200 viewers; monitoring: 500 monitored calls, no viewer)",
    )
    parser.add_argument("--servers", choices=("ours", "both"), default="both", help="scale part")
    parser.add_argument(
        "--loads", default="", help="scale part: only these loads, e.g. 2 or 1,3 (none: idle only)"
    )
    parser.add_argument("--no-idle", action="store_true", help="scale part: skip the idle steps")
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        help="scale part: run it N times (ours then nchan in each) and print the medians,"
        " each ratio the median of the runs' own, and whether each goal was met in every run",
    )
    parser.add_argument(
        "--cluster-only",
        action="store_true",
        help="only the single-node live phase and the cluster scenario (writes nothing)",
    )
    args = parser.parse_args(argv)
    raise_nofile()
    plan = Plan.quick() if args.quick else Plan.full()
    kills = 3 if args.quick else 10
    if args.cluster_only:
        print(cluster_only(plan, kills))
        return 0
    scale_plan = scale.ScalePlan.quick() if args.quick else scale.ScalePlan.full()
    if args.loads:
        numbers = [] if args.loads == "none" else args.loads.split(",")
        picked = [scale_plan.loads[int(i) - 1] for i in numbers]
        scale_plan = dataclasses.replace(scale_plan, loads=picked)
    if args.no_idle:
        scale_plan = dataclasses.replace(scale_plan, idle_steps=[])
    began = time.monotonic()
    load_before = load_average()
    with (
        Child("simulator", simproc.main) as sim,
        Child("viewers", viewers.main) as clients,
    ):
        base_url = sim.call("base_url")
        if args.redaction:
            text = _redaction(plan, sim, clients, base_url)
            print(text)
            return 0
        parts = []
        if args.part in ("all", "naive"):
            results, notes = run(plan, sim, clients, base_url)
            parts.append(document(plan, results, notes, args.quick))
            parts.append(_redaction(plan, sim, clients, base_url))
            _say(f"cluster: {cluster.NODES} nodes on Redis, {plan.live_viewers} viewers")
            clustered = cluster.run(plan, sim, clients, base_url, kills)
            parts.append(cluster.markdown(results["ours"].live, clustered))
        if args.part in ("all", "scale"):
            found: list[scale.Run] = []
            scale_notes: list[str] = []
            for n in range(max(args.runs, 1)):
                if args.runs > 1:
                    _say(f"scale: run {n + 1} of {args.runs}")
                one, notes = scale.run(
                    scale_plan,
                    sim,
                    clients,
                    base_url,
                    plan.viewer_queue,
                    _say,
                    "ours" if args.servers == "ours" else None,
                )
                found.append(one)
                scale_notes += (
                    [f"run {n + 1}: {note}" for note in notes] if args.runs > 1 else notes
                )
            parts.append(scale_document(scale_plan, found, scale_notes))
        if args.part in ("all", "stall"):
            _say("a stalled viewer through a burst")
            stall_plan = stall.StallPlan()
            parts.append(stall.markdown(stall_plan, stall.run(stall_plan, sim, clients, base_url)))
        if args.part in ("all", "longcall"):
            long_plan = longcall.LongPlan.quick() if args.quick else longcall.LongPlan()
            _say(f"a long call: {long_plan.segments:,} segments, {long_plan.viewers} viewers")
            found_long = longcall.run(long_plan, sim, clients, base_url, plan.viewer_queue)
            parts.append(longcall.markdown(found_long))
    if args.part in ("all", "monitoring"):  # a simulator of its own: 500 calls, all paced
        calls = 50 if args.quick else monitoring.CALLS
        _say(f"monitoring: {calls} calls, no viewer")
        parts.append(monitoring.markdown(calls, 10.0 if args.quick else monitoring.WINDOW))
    took = time.monotonic() - began
    text = "\n\n".join([heading(load_before, took, args.quick), *parts])
    print(text)
    args.out.write_text(text + "\n")
    print(f"\n(written to {args.out})", file=sys.stderr)
    return 0


def cluster_only(plan: Plan, kills: int) -> str:
    """The single-node live phase of ours, then the cluster scenario, in one run."""
    with (
        Child("simulator", simproc.main) as sim,
        Child("viewers", viewers.main) as clients,
    ):
        base_url = sim.call("base_url")
        with Child("ours-proxy", proxies.main, "ours", base_url, plan.viewer_queue) as px:
            path = functools.partial(proxies.stream_path, "ours")
            procs = phases.Procs(sim, clients, px, px.call("port"), px.call("token"), path)
            single = phases.live(
                procs, plan.live_viewers, plan.rate, plan.warmup, plan.window, plan.drain
            )
        _say(f"one node: p99 {single.stats['p99_ms']:.1f} ms; now {cluster.NODES} nodes")
        clustered = cluster.run(plan, sim, clients, base_url, kills)
    return cluster.markdown(single, clustered)


def run(
    plan: Plan, sim: Child, clients: Child, base_url: str
) -> tuple[dict[str, report.DesignResult], list[str]]:
    results: dict[str, report.DesignResult] = {}
    notes: list[str] = []
    for design in proxies.DESIGNS:
        with Child(f"{design}-proxy", proxies.main, design, base_url, plan.viewer_queue) as px:
            path = functools.partial(proxies.stream_path, design)
            procs = phases.Procs(sim, clients, px, px.call("port"), px.call("token"), path)
            _say(f"{design}: idle viewers {plan.idle_steps}")
            idle = phases.idle(procs, plan.idle_steps, plan.settle)
            _say(f"{design}: reached {idle.reached}; live {plan.live_viewers} viewers")
            live = phases.live(
                procs, plan.live_viewers, plan.rate, plan.warmup, plan.window, plan.drain
            )
            _say(f"{design}: p99 {live.stats['p99_ms']:.1f} ms")
            notes += _notes(design, idle, live, procs)
        results[design] = report.DesignResult(idle, live)
    return results, notes


def _redaction(plan: Plan, sim: Child, clients: Child, base_url: str) -> str:
    _say(f"redaction micro-benchmark, {plan.redaction_rounds} rounds")
    costs = redaction.run(plan.redaction_rounds)
    ab = _redaction_ab(plan, sim, clients, base_url)
    return "## Redaction\n\n" + redaction.markdown(costs, ab)


def _redaction_ab(plan: Plan, sim: Child, clients: Child, base_url: str) -> list[redaction.Round]:
    """Live phases of our relay with redaction on and off, alternated (on a shared machine
    one run each would compare two moments' load rather than two settings)."""
    rounds: list[redaction.Round] = []
    for n in range(plan.ab_rounds):
        order = ("ours", "ours-redaction-off") if n % 2 == 0 else ("ours-redaction-off", "ours")
        for design in order:
            with Child(f"{design}-proxy", proxies.main, design, base_url, plan.viewer_queue) as px:
                path = functools.partial(proxies.stream_path, design)
                procs = phases.Procs(sim, clients, px, px.call("port"), px.call("token"), path)
                live = phases.live(
                    procs, plan.live_viewers, plan.rate, plan.warmup, plan.window, plan.drain
                )
                _say(f"A/B round {n + 1}, {design}: p99 {live.stats['p99_ms']:.1f} ms")
                on = design == "ours"
                rounds.append(
                    redaction.Round(
                        n + 1,
                        on,
                        live.stats["p99_ms"],
                        live.utilisation("others"),
                        live.cpu_per_1000("proxy"),
                        redaction.in_relay(_metrics(procs)) if on else None,
                    )
                )
    return rounds


def _notes(
    design: str, idle: phases.IdleResult, live: phases.LiveResult, procs: phases.Procs
) -> list[str]:
    points = ", ".join(f"{n}: {kib / 1024:.1f}" for n, kib in idle.points)
    notes = [f"{design}: proxy RSS MiB by idle viewers: {points}"]
    pauses = "; ".join(
        f"gen{g}: {n} (longest {longest:.1f} ms, total {total:.0f} ms)"
        for g, (n, longest, total) in sorted(live.gc_pauses.items())
    )
    notes.append(f"{design}: proxy GC pauses in the live window: {pauses or 'none'}")
    others = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in live.others)
    notes.append(f"{design}: other processes busiest in the live window: {others or 'none'}")
    for what, errors in (("idle", idle.errors), ("live", live.errors)):
        for error, count in errors.items():
            notes.append(f"{design}: {count} {what} viewers failed to connect: {error}")
    if design == "ours":
        metrics = _metrics(procs)
        cuts = re.findall(rb'viewer_cuts_total\{reason="(\w+)"\} (\S+)', metrics)
        shown = ", ".join(f"{r.decode()} {float(v):.0f}" for r, v in cuts) or "none"
        notes.append(f"ours: viewer cuts reported by /metrics: {shown}")
    return notes


def _metrics(procs: phases.Procs) -> bytes:
    """The proxy's /metrics page (our design only)."""
    request = urllib.request.Request(f"http://127.0.0.1:{procs.port}/metrics")
    if procs.token:
        request.add_header("Authorization", f"Bearer {procs.token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return bytes(response.read())


def heading(load_before: str, took: float, quick: bool) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            "# Burki Live relay: naive comparison and nchan at scale"
            + (" (quick run)" if quick else ""),
            "",
            f"- machine: {machine().describe()}; load average before: {load_before}, "
            f"at the end: {load_average()}",
            f"- run: {when}, {took:.0f} s; simulator, proxy and viewers in separate processes",
            f"- code: {source_version(Path(webapp.__file__).parent)}",
        ]
    )


def scale_document(plan: scale.ScalePlan, found: list[scale.Run], notes: list[str]) -> str:
    table = scale.markdown(scale.rows(plan, found))
    runs = len(found)
    return "\n".join(
        [
            "## At scale, beside nginx + nchan",
            "",
            f"- {runs} run{'s' if runs > 1 else ''}, each ours then nchan; "
            + (
                "each figure is the median of the runs, each ratio the median of the runs' own "
                "ratios (ours / nchan within one run), with its spread (lowest-highest) where a "
                "goal is a ratio; a goal is *met in every run*, *met at the median only* (the "
                "medians meet it, some run did not) or *missed* (the medians do not)"
                if runs > 1
                else "one run: each figure and verdict is that run's (`--runs 3` for medians)"
            ),
            f"- idle: viewers of one silent call, steps {plan.idle_steps}; loads: "
            f"{plan.window:g} s window after {plan.warmup:g} s warm-up, the same viewers' "
            "process for both; a wallboard viewer watches every call over one connection "
            "(ours: /api/events?call=..., nchan: /sub/a,b,...)",
            "- nchan: nginx (one process, one worker) + libnginx-mod-nchan, one channel per "
            "call; a bridge process holds one upstream WebSocket per call and POSTs each "
            "message's bytes to /pub/<call> (its CPU is the publisher row, not nchan's)",
            "",
            table,
            "",
            *(f"- {note}" for note in notes),
        ]
    )


def document(
    plan: Plan,
    results: dict[str, report.DesignResult],
    notes: list[str],
    quick: bool,
) -> str:
    table = report.markdown(report.rows(results["ours"], results["naive"]))
    return "\n".join(
        [
            f"## Relay vs naive proxy{' (quick run)' if quick else ''}",
            "",
            f"- idle: viewers of one silent call, steps {plan.idle_steps}, RSS read "
            f"{plan.settle:g} s after each step",
            f"- live: {plan.live_viewers} viewers of one call, {plan.rate:g} final segments/s, "
            f"{plan.window:g} s window after {plan.warmup:g} s warm-up; latency = viewer read "
            "time - simulator send-time marker (same clock)",
            f"- ours: default settings but RELAY_VIEWER_QUEUE={plan.viewer_queue}, viewers "
            "send an admin API token (users, tokens and audit files in a temporary directory); "
            "naive: bench/naive.py (one websockets.connect per viewer, json.loads + "
            f"json.dumps per message); ours under webapp.server's uvicorn configuration, "
            f"naive under a plain uvicorn ({_http_impl()}, asyncio loop), no access log",
            "",
            table,
            "",
            *(f"- {note}" for note in report.warnings(results["ours"], results["naive"]) + notes),
        ]
    )


def _http_impl() -> str:
    """What uvicorn's ``http="auto"`` picks here."""
    return "httptools" if importlib.util.find_spec("httptools") else "h11"


def _say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
