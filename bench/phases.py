"""The two measurements, run against one proxy process at a time.

- :func:`idle`: viewers of one silent call are added in steps; the proxy's RSS
  is read at each step once things settle. The slope between the first and the
  last step is the memory one idle viewer costs.
- :func:`live`: viewers of one call while the simulator paces final segments;
  over a window: latency from the simulator's send-time marker to the viewer's
  read, lost and duplicated segments, and the CPU time of each process.

``BENCH_PROFILE=<folder>`` records a py-spy profile of our proxy over each live window
(``<folder>/<viewers>x<rate>.txt``, py-spy's raw format: one stack and its samples a line;
py-spy is not a dependency: ``.venv/bin/pip install py-spy``). py-spy reads the proxy
without pausing it, but shares the machine: a profiled run's figures are for finding
where the time goes, not for the table.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.control import Child
from bench.procstat import all_cpu, cpu_times, machine_cpu, rss_kib, top_consumers


@dataclass
class Procs:
    sim: Child
    viewers: Child
    proxy: Child
    port: int
    token: str | None
    """The API token viewers send (our dashboard requires one)."""
    path: Callable[[list[str]], str]
    """The SSE path of a viewer of these calls (one, or several over one connection)."""
    server_pid: int | None = None
    """The process whose CPU and memory are the server's (default: the proxy child);
    nginx runs apart from its child, which then counts as the publisher."""

    @property
    def pid(self) -> int:
        return self.server_pid if self.server_pid is not None else self.proxy.pid

    def meter(self) -> CpuMeter:
        pids = {"proxy": self.pid, "simulator": self.sim.pid, "viewers": self.viewers.pid}
        if self.server_pid is not None:
            pids["publisher"] = self.proxy.pid
        return CpuMeter(pids)

    def open(self, sids: list[str], n: int) -> dict[str, Any]:
        return self.viewers.call(
            "open", port=self.port, path=self.path(sids), sids=sids, n=n, token=self.token
        )


@dataclass
class IdleResult:
    wanted: int
    points: list[tuple[int, int]] = field(default_factory=list)
    """``(viewers connected, proxy RSS KiB)`` at each step, the first with no viewer."""
    upstreams: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def reached(self) -> int:
        return self.points[-1][0] if self.points else 0

    @property
    def kib_per_viewer(self) -> float:
        """RSS slope between the first step with viewers and the last."""
        steps = [p for p in self.points if p[0] > 0]
        if len(steps) < 2 or steps[-1][0] == steps[0][0]:
            return float("nan")
        (n0, r0), (n1, r1) = steps[0], steps[-1]
        return (r1 - r0) / (n1 - n0)


@dataclass
class LiveResult:
    viewers: int
    rate: float
    window: float
    upstreams: int
    stats: dict[str, Any]
    cpu: dict[str, float]
    """CPU seconds during the window, per process (proxy, simulator, viewers), the
    proxy's system (kernel) share as ``proxy_sys``, ``others``: what the rest of the
    machine's processes used meanwhile (other work skews latency on a small machine),
    and machine-wide ``softirq`` (network processing) and ``steal`` (hypervisor)."""
    gc_pauses: dict[int, tuple[int, float, float]]
    """The proxy's garbage collections in the window: generation -> (count, max ms, total ms)."""
    others: list[tuple[str, float]]
    """The other processes that used the most CPU during the window."""
    errors: dict[str, int]
    """Why viewers failed to connect, if any did."""
    gc_connecting: dict[int, tuple[int, float, float]] = field(default_factory=dict)
    """The proxy's garbage collections while the viewers connected and warmed up."""

    def cpu_per_1000(self, proc: str, unit: str = "delivered") -> float:
        """CPU seconds of ``proc`` per 1,000 segments delivered (or ``unit="frames"``)."""
        count = self.stats[unit]
        return self.cpu[proc] / count * 1000 if count else float("nan")

    def utilisation(self, proc: str) -> float:
        """Share of one core used during the window, in percent."""
        return self.cpu[proc] / self.window * 100


def idle(procs: Procs, steps: list[int], settle: float) -> IdleResult:
    sid = procs.sim.call("add_call")
    procs.proxy.call("follow", sids=[sid])
    result = IdleResult(wanted=steps[-1])
    errors: Counter[str] = Counter()
    time.sleep(settle)
    result.points.append((0, rss_kib(procs.pid)))
    have = 0
    for step in steps:
        opened = procs.open([sid], step - have)
        errors.update(opened["errors"])
        have = opened["alive"]
        time.sleep(settle)
        result.points.append((procs.viewers.call("alive"), rss_kib(procs.pid)))
        if opened["errors"]:
            break  # the design cannot go further: measure what it reached
    result.upstreams = procs.sim.call("connections", sid=sid)
    result.errors = dict(errors)
    procs.viewers.call("close_all")
    procs.sim.call("end_call", sid=sid)
    return result


def live(
    procs: Procs,
    viewers: int,
    rate: float,
    warmup: float,
    window: float,
    drain: float,
    calls: int = 1,
) -> LiveResult:
    """``viewers`` viewers, each of all ``calls`` calls (one connection), ``rate`` final
    segments per second on each call."""
    sids = [procs.sim.call("add_call") for _ in range(calls)]
    procs.proxy.call("follow", sids=sids)
    procs.proxy.call("gc")
    opened = procs.open(sids, viewers)
    upstreams = _settled_connections(procs.sim, sids)
    procs.sim.call("rate", per_second=rate)
    time.sleep(warmup)
    meter = procs.meter()
    connecting = procs.proxy.call("gc")
    profiler = _profiler(procs, window, f"{viewers}x{rate:g}")
    start = time.time()
    time.sleep(window)
    end = time.time()
    cpu, others = meter.read()
    if profiler is not None:
        profiler.wait(30)
    gc_pauses = procs.proxy.call("gc")
    procs.sim.call("rate", per_second=None)
    time.sleep(drain)
    sent = {sid: procs.sim.call("markers", sid=sid) for sid in sids}
    stats = procs.viewers.call("stats", start=start, end=end, sent=sent)
    procs.viewers.call("close_all")
    for sid in sids:
        procs.sim.call("end_call", sid=sid)
    return LiveResult(
        opened["alive"],
        rate,
        end - start,
        upstreams,
        stats,
        cpu,
        gc_pauses,
        others,
        opened["errors"],
        connecting,
    )


def _profiler(procs: Procs, seconds: float, name: str) -> subprocess.Popen[bytes] | None:
    """py-spy recording our proxy for ``seconds``, when ``BENCH_PROFILE`` names a folder."""
    folder = os.environ.get("BENCH_PROFILE")
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not folder or procs.server_pid is not None or not Path(spy).exists():
        return None  # not asked, or nginx (not Python), or no py-spy
    Path(folder).mkdir(parents=True, exist_ok=True)
    out = Path(folder) / f"{name}.txt"
    command = [spy, "record", "-r", "250", "-f", "raw", "--nonblocking"]
    command += ["-p", str(procs.pid), "-d", str(math.ceil(seconds)), "-o", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class CpuMeter:
    """CPU used from its creation to :meth:`read`: by each of ``pids``, by the proxy in the
    kernel, by the rest of the machine (and by whom), in softirq and stolen."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self._procs = {name: cpu_times(pid) for name, pid in pids.items()}
        self._machine, self._everyone = machine_cpu(), all_cpu()

    def read(self) -> tuple[dict[str, float], list[tuple[str, float]]]:
        machine = {k: v - self._machine[k] for k, v in machine_cpu().items()}
        others = top_consumers(self._everyone, all_cpu(), {*self.pids.values(), os.getpid()})
        times = {name: cpu_times(pid) for name, pid in self.pids.items()}
        cpu = {name: sum(t) - sum(self._procs[name]) for name, t in times.items()}
        cpu["proxy_sys"] = times["proxy"][1] - self._procs["proxy"][1]
        cpu["others"] = max(0.0, machine["tasks"] - sum(cpu[name] for name in self.pids))
        cpu.setdefault("publisher", 0.0)
        cpu["softirq"], cpu["steal"] = machine["softirq"], machine["steal"]
        return cpu, others


def _settled_connections(
    sim: Child, sids: list[str], quiet: float = 1.0, limit: float = 15.0
) -> int:
    """The most upstreams any of ``sids`` has, once the counts stopped changing for
    ``quiet`` seconds."""
    deadline = time.monotonic() + limit
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = max(sim.call("connections", sid=sid) for sid in sids)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
        time.sleep(0.2)
    return last
