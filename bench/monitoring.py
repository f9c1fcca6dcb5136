"""``python -m bench.monitoring``: what monitoring costs (issue 23).

500 ongoing calls (``--calls``), each saying one final segment every 4 s (the simulator's
``segment_rate``), in three runs of a fresh proxy process each:

- *off*: monitoring off, nobody watching: no stream at all (the baseline memory);
- *monitored*: monitoring on, no viewer: every call's stream held by the monitor;
- *monitored + 1 viewer each*: the same, with one SSE viewer on every call.

For each: the proxy's CPU time per segment Burki sent over the window, and its RSS;
memory per monitored call is (RSS of the run - RSS of *off*) / calls. The simulator,
the viewers and the proxy each run in their own process (``bench.control``), so the
proxy's figures are its own.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

from bench import proxies, simproc, viewers
from bench.control import Child
from bench.procstat import cpu_times, load_average, machine, raise_nofile, rss_kib


@dataclass(frozen=True)
class Run:
    name: str
    monitored: bool
    viewers: bool


RUNS = (
    Run("off (no stream)", False, False),
    Run("monitored, no viewer", True, False),
    Run("monitored, 1 viewer each", True, True),
)


@dataclass
class Result:
    run: Run
    streams: int
    viewers: int
    segments: int
    cpu_s: float
    rss_kib: int

    @property
    def cpu_ms_per_segment(self) -> float:
        return self.cpu_s * 1000 / self.segments if self.segments else 0.0


def upstreams(sim: Child, sids: list[str]) -> int:
    return sum(1 for sid in sids if sim.call("connections", sid=sid) > 0)


def wait_upstreams(sim: Child, sids: list[str], want: int, timeout: float = 300.0) -> int:
    deadline = time.monotonic() + timeout
    while (found := upstreams(sim, sids)) < want and time.monotonic() < deadline:
        time.sleep(0.5)
    return found


def one_run(run: Run, sim: Child, sids: list[str], base: str, window: float) -> Result:
    overrides = {"monitor_enabled": run.monitored, "directory_poll_interval": 2.0}
    with (
        Child("proxy", proxies.main, "ours", base, 256, overrides) as proxy,
        Child("viewers", viewers.main) as pool,
    ):
        port, token = proxy.call("port"), proxy.call("token")
        if run.viewers:
            for sid in sids:
                pool.call(
                    "open", port=port, path=f"/api/calls/{sid}/events", sids=[sid], n=1, token=token
                )
        want = len(sids) if run.monitored or run.viewers else 0
        streams = wait_upstreams(sim, sids, want)
        time.sleep(5.0)  # settle: replays read, first health figures out
        user, system = cpu_times(proxy.pid)
        started = time.time()
        time.sleep(window)
        after_user, after_system = cpu_times(proxy.pid)
        ended = time.time()
        rss = rss_kib(proxy.pid)
        watching = pool.call("alive")
        pool.call("close_all")
    cpu = after_user - user + after_system - system
    return Result(run, streams, watching, said(sim, sids, started, ended), cpu, rss)


def said(sim: Child, sids: list[str], start: float, end: float) -> int:
    """Final segments the simulator sent between ``start`` and ``end`` (its markers)."""
    return sum(1 for sid in sids for _, t in sim.call("markers", sid=sid) if start <= t < end)


RATE = 0.25  # final segments a second on each call: one every 4 s
CALLS = 500  # issue 27: the cost of monitoring 500 calls that nobody watches
WINDOW = 40.0


def table(results: list[Result], calls: int) -> str:
    base = results[0].rss_kib
    lines = [
        f"Monitoring cost: {calls} ongoing calls at one segment per 4 s each "
        f"({calls * RATE:g} segments/s), {machine().describe()}, load {load_average()}",
        "",
        "| run | upstreams | viewers | segments | proxy CPU per segment | proxy RSS"
        " | memory per call |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        # Per stream open: on a busy machine not every call's upstream is up in time.
        per_call = (r.rss_kib - base) / r.streams if r is not results[0] and r.streams else 0.0
        cpu = f"{r.cpu_ms_per_segment:.2f} ms" if r.segments else f"{r.cpu_s:.2f} s total"
        lines.append(
            f"| {r.run.name} | {r.streams} | {r.viewers} | {r.segments} | {cpu} | "
            f"{r.rss_kib / 1024:.1f} MiB | "
            f"{per_call:.0f} KiB |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.monitoring", description=__doc__)
    parser.add_argument("--calls", type=int, default=CALLS)
    parser.add_argument("--window", type=float, default=WINDOW, help="seconds measured per run")
    args = parser.parse_args(argv)
    raise_nofile()
    print(markdown(args.calls, args.window))
    return 0


def markdown(calls: int, window: float) -> str:
    """The three runs over ``calls`` paced calls of a simulator of their own, as a table."""
    with Child("simulator", simproc.main) as sim:
        base = sim.call("base_url")
        sids = [sim.call("add_call") for _ in range(calls)]
        sim.call("rate", per_second=RATE)
        results = []
        for run in RUNS:
            results.append(one_run(run, sim, sids, base, window))
            while upstreams(sim, sids):  # the last run's upstreams are gone
                time.sleep(0.5)
    return "## Monitoring\n\n" + table(results, calls)


if __name__ == "__main__":
    raise SystemExit(main())
