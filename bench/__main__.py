"""``python -m bench``: our relay against the naive design, in one run.

The simulator, the proxy under test and the viewers each run in their own
process, so the proxy's CPU time and memory are its own. The proxy process is
started afresh for each design; the simulator and the viewers are shared.
Prints a Markdown table (and writes it to ``bench/results.md``).
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import webapp
from bench import cluster, phases, proxies, redaction, report, simproc, viewers
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
    began = time.monotonic()
    _say(f"redaction micro-benchmark, {plan.redaction_rounds} rounds")
    costs = redaction.run(plan.redaction_rounds)
    if args.redaction:
        with Child("simulator", simproc.main) as sim, Child("viewers", viewers.main) as clients:
            ab = _redaction_ab(plan, sim, clients, sim.call("base_url"))
        text = "## Redaction\n\n" + redaction.markdown(costs, ab)
        print(text)
        return 0
    results, notes, ab, clustered = run(plan, kills)
    text = document(plan, results, notes, time.monotonic() - began, args.quick)
    text += "\n\n## Redaction\n\n" + redaction.markdown(costs, ab)
    text += "\n\n" + cluster.markdown(results["ours"].live, clustered)
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
            procs = phases.Procs(sim, clients, px, px.call("port"), px.call("token"))
            single = phases.live(
                procs, plan.live_viewers, plan.rate, plan.warmup, plan.window, plan.drain
            )
        _say(f"one node: p99 {single.stats['p99_ms']:.1f} ms; now {cluster.NODES} nodes")
        clustered = cluster.run(plan, sim, clients, base_url, kills)
    return cluster.markdown(single, clustered)


def run(
    plan: Plan, kills: int
) -> tuple[dict[str, report.DesignResult], list[str], list[redaction.Round], cluster.ClusterResult]:
    results: dict[str, report.DesignResult] = {}
    notes: list[str] = []
    with (
        Child("simulator", simproc.main) as sim,
        Child("viewers", viewers.main) as clients,
    ):
        base_url = sim.call("base_url")
        for design in proxies.DESIGNS:
            with Child(f"{design}-proxy", proxies.main, design, base_url, plan.viewer_queue) as px:
                procs = phases.Procs(sim, clients, px, px.call("port"), px.call("token"))
                _say(f"{design}: idle viewers {plan.idle_steps}")
                idle = phases.idle(procs, plan.idle_steps, plan.settle)
                _say(f"{design}: reached {idle.reached}; live {plan.live_viewers} viewers")
                live = phases.live(
                    procs, plan.live_viewers, plan.rate, plan.warmup, plan.window, plan.drain
                )
                _say(f"{design}: p99 {live.stats['p99_ms']:.1f} ms")
                notes += _notes(design, idle, live, procs)
            results[design] = report.DesignResult(idle, live)
        ab = _redaction_ab(plan, sim, clients, base_url)
        _say(f"cluster: {cluster.NODES} nodes on Redis, {plan.live_viewers} viewers, {kills} kills")
        clustered = cluster.run(plan, sim, clients, base_url, kills)
    return results, notes, ab, clustered


def _redaction_ab(plan: Plan, sim: Child, clients: Child, base_url: str) -> list[redaction.Round]:
    """Live phases of our relay with redaction on and off, alternated (on a shared machine
    one run each would compare two moments' load rather than two settings)."""
    rounds: list[redaction.Round] = []
    for n in range(plan.ab_rounds):
        order = ("ours", "ours-redaction-off") if n % 2 == 0 else ("ours-redaction-off", "ours")
        for design in order:
            with Child(f"{design}-proxy", proxies.main, design, base_url, plan.viewer_queue) as px:
                procs = phases.Procs(sim, clients, px, px.call("port"), px.call("token"))
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


def document(
    plan: Plan,
    results: dict[str, report.DesignResult],
    notes: list[str],
    took: float,
    quick: bool,
) -> str:
    host = machine()
    table = report.markdown(report.rows(results["ours"], results["naive"]))
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            f"# Burki Live relay vs naive proxy{' (quick run)' if quick else ''}",
            "",
            f"- machine: {host.describe()}; load average at the end: {load_average()}",
            f"- run: {when}, {took:.0f} s; simulator, proxy and viewers in separate processes",
            f"- code: {source_version(Path(webapp.__file__).parent)}",
            f"- idle: viewers of one silent call, steps {plan.idle_steps}, RSS read "
            f"{plan.settle:g} s after each step",
            f"- live: {plan.live_viewers} viewers of one call, {plan.rate:g} final segments/s, "
            f"{plan.window:g} s window after {plan.warmup:g} s warm-up; latency = viewer read "
            "time - simulator send-time marker (same clock)",
            f"- ours: default settings but RELAY_VIEWER_QUEUE={plan.viewer_queue}, viewers "
            "send an admin API token (users, tokens and audit files in a temporary directory); "
            "naive: bench/naive.py (one websockets.connect per viewer, json.loads + "
            f"json.dumps per message); both under uvicorn ({_http_impl()}, asyncio loop), "
            "no access log",
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
