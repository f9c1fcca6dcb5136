"""A stalled viewer beside healthy ones through a burst (issue 20): what the healthy ones see.

As reported: six viewers of one call over the JSON SSE API, one of them on a socket
with a 4 KiB receive buffer that never reads (a laptop whose lid closed on a flaky
Wi-Fi). The simulator sends 300 segments of ~16 KB at 1,000 a second, then 200
short ones at 100 a second, on its own schedule: it waits for no reader. Measured
from the simulator's send-time marker to each healthy viewer's read: latency over
the whole burst (the goal: p99 under 250 ms), segments lost or repeated, viewers
cut, and how long the stalled one stayed connected (it must be cut after
``RELAY_STALL_TIMEOUT``, 5 s by default). Run once with redaction on (the default)
and once with it off, since what a 16 KB segment costs is mostly its redaction.
"""

from __future__ import annotations

import os
import re
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from bench import phases, proxies
from bench.control import Child
from bench.procstat import cpu_times

P99_GOAL_MS = 250.0
STALL_TIMEOUT = 5.0  # RELAY_STALL_TIMEOUT's default, which the proxy runs with


@dataclass(frozen=True)
class StallPlan:
    healthy: int = 5
    stalled: int = 1
    rcvbuf: int = 4096
    big: int = 300
    size: int = 16_000
    big_rate: float = 1000.0
    short: int = 200
    short_rate: float = 100.0
    drain: float = 3.0
    cut_wait: float = 3 * STALL_TIMEOUT


@dataclass(frozen=True)
class StallResult:
    design: str
    stats: dict[str, float]
    sent: int
    burst_seconds: float
    cut_after: float | None
    """Seconds from the burst's start until no stalled viewer was connected (None: never)."""
    cuts: str
    cpu: float
    """The proxy's CPU seconds (user and system) from the burst's start to the drain's end."""
    load: float
    """The machine's one-minute load average when the burst started."""


def run(plan: StallPlan, sim: Child, clients: Child, base_url: str) -> list[StallResult]:
    return [_one(plan, design, sim, clients, base_url) for design in ("ours", "ours-redaction-off")]


def _one(plan: StallPlan, design: str, sim: Child, clients: Child, base_url: str) -> StallResult:
    with Child(f"{design}-proxy", proxies.main, design, base_url, 256) as px:
        port, token = px.call("port"), px.call("token")
        sid = sim.call("add_call")
        path = proxies.stream_path("ours", [sid])
        clients.call("open", port=port, path=path, sids=[sid], n=plan.healthy, token=token)
        clients.call(
            "open_stalled", port=port, path=path, n=plan.stalled, token=token, rcvbuf=plan.rcvbuf
        )
        phases._settled_connections(sim, [sid])
        load, cpu_before = os.getloadavg()[0], sum(cpu_times(px.pid))
        start = time.time()
        sent = sim.call(
            "burst",
            sid=sid,
            big=plan.big,
            size=plan.size,
            per_second=plan.big_rate,
            short=plan.short,
            short_rate=plan.short_rate,
        )
        end = time.time()
        cut_after = _until(lambda: clients.call("stalled_open") == 0, start, plan.cut_wait)
        time.sleep(max(0.0, plan.drain - (time.time() - end)))
        cpu = sum(cpu_times(px.pid)) - cpu_before
        marks = {sid: sim.call("markers", sid=sid)}
        stats = clients.call("stats", start=start, end=end + 1, sent=marks)
        cuts = _cuts(port, token)
        clients.call("close_all")
        sim.call("end_call", sid=sid)
    return StallResult(design, stats, sent, end - start, cut_after, cuts, cpu, load)


def _until(done: Callable[[], bool], start: float, limit: float) -> float | None:
    """Seconds from ``start`` until ``done()`` (looked at every 0.1 s), None after ``limit``."""
    while not done():
        if time.time() - start > limit:
            return None
        time.sleep(0.1)
    return time.time() - start


def _cuts(port: int, token: str | None) -> str:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        metrics = response.read()
    found = re.findall(rb'viewer_cuts_total\{reason="(\w+)"\} (\S+)', metrics)
    return ", ".join(f"{r.decode()} {float(v):.0f}" for r, v in found) or "none"


def markdown(plan: StallPlan, results: list[StallResult]) -> str:
    lines = [
        "## A stalled viewer through a burst",
        "",
        f"{plan.healthy} healthy viewers and {plan.stalled} that never reads "
        f"(SO_RCVBUF {plan.rcvbuf}) of one call; {plan.big} segments of ~{plan.size // 1000} KB "
        f"at {plan.big_rate:g}/s, then {plan.short} short ones at {plan.short_rate:g}/s. "
        f"Latency: the healthy viewers, send to read, over the burst (goal: p99 under "
        f"{P99_GOAL_MS:g} ms). The stalled viewer must be cut after {STALL_TIMEOUT:g} s. "
        "Proxy CPU: its CPU seconds from the burst's start to the drain's end, per big "
        "segment; load: the machine's one-minute load average at the start.",
        "",
        "| proxy | p50 ms | p99 ms | max ms | delivered / expected | lost | repeated "
        "| healthy cut | stalled cut after | cuts (/metrics) | proxy CPU ms / big segment | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        s = r.stats
        expected = int(s["expected_per_viewer"]) * plan.healthy
        cut = "never" if r.cut_after is None else f"{r.cut_after:.1f} s"
        lines.append(
            f"| {r.design} | {s['p50_ms']:.0f} | {s['p99_ms']:.0f} | {s['max_ms']:.0f} "
            f"| {int(s['latencies'])} / {expected} | {int(s['lost'])} | {int(s['duplicates'])} "
            f"| {int(s['disconnected'])} | {cut} | {r.cuts} "
            f"| {1000 * r.cpu / plan.big:.2f} | {r.load:.1f} |"
        )
    return "\n".join(lines)
