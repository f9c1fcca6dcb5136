"""``python -m bench.soak``: our dashboard's memory under ordinary churn, over time.

The simulator, our dashboard and the viewers each run in their own process (as
in ``python -m bench``), so the dashboard's RSS is its own. The churn: about one
new call a second, each living 20-90 s and speaking ``--segment-rate`` final
segments a second; a random live call's upstream dropped every 15 s (the relay
reconnects and dedupes Burki's replay); 30-60 viewers coming and going
(``bench.churn``: one call, several calls over one connection, or a call page's
HTML stream; resumes with ``Last-Event-ID``, resets). Every ``--every`` seconds
it prints the dashboard's RSS, and at the end a table: with the collector's
freezing on (the default settings) and off (``DASHBOARD_GC_FREEZE_INTERVAL=0``),
one after the other against the same simulator. ``--census`` ends each run by
counting the cyclic garbage in the dashboard's process by type (``bench.gcstat``).

A few minutes by default; ``--minutes 60`` for the hour the issue asked about.
"""

from __future__ import annotations

import argparse
import http.client
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from bench import churn, proxies, simproc
from bench.control import Child
from bench.procstat import load_average, machine, raise_nofile, rss_kib

SETTINGS = {
    "on": {},  # the defaults: freeze every DASHBOARD_GC_FREEZE_INTERVAL, sweep every 10 min
    "off": {"dashboard_gc_freeze_interval": 0.0},
}
VIEWER_QUEUE = 256
# The page viewers share one sign-in and never take the refreshed cookie: without this, their
# session ends after DASHBOARD_SESSION_IDLE_MINUTES (30) and every page viewer after is a 401.
SESSION = {"dashboard_session_idle_minutes": 24 * 60.0}


@dataclass(frozen=True)
class SoakPlan:
    minutes: float
    every: float
    segment_rate: float = 0.5
    call_life: tuple[float, float] = (20.0, 90.0)
    drop_every: float = 15.0
    viewers: tuple[int, int] = (30, 60)
    census: bool = False
    look: bool = False
    trace: bool = False
    heap: bool = False  # where the dashboard's memory sits, at every sample


@dataclass
class Sample:
    t: float
    rss_mib: float
    calls: int
    sessions: int
    viewers: int
    streams: int
    frozen: int


@dataclass
class Run:
    setting: str
    samples: list[Sample] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    census: dict[str, Any] | None = None
    lingering: dict[str, Any] | None = None
    traced: list[Any] | None = None
    load: str = ""

    def rss_at(self, seconds: float) -> float:
        """RSS of the last sample taken at or before ``seconds``."""
        found = [s.rss_mib for s in self.samples if s.t <= seconds + 2]  # samples run late
        return found[-1] if found else float("nan")

    @property
    def peak(self) -> float:
        return max(s.rss_mib for s in self.samples)

    def growth_after(self, seconds: float) -> float:
        """How much higher than at ``seconds`` RSS got later, in percent."""
        base = self.rss_at(seconds)
        later = [s.rss_mib for s in self.samples if s.t > seconds + 2]
        return (max(later) / base - 1) * 100 if later and base else float("nan")

    def level_off(self, within: float = 10.0) -> float | None:
        """The first sample's time after which RSS never grew more than ``within`` %
        (None: it never did, or too late to tell: in the run's last fifth)."""
        end = self.samples[-1].t
        for s in self.samples:
            if s.t > end * 0.8:
                return None
            if self.growth_after(s.t) < within:
                return s.t
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=2.0, help="per setting (default 2)")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between RSS samples")
    parser.add_argument("--freeze", choices=("on", "off", "both"), default="both")
    parser.add_argument("--segment-rate", type=float, default=0.5, help="per call per second")
    parser.add_argument("--census", action="store_true", help="count cyclic garbage at the end")
    parser.add_argument(
        "--look", action="store_true", help="at the end, what each ended stream keeps, by part"
    )
    parser.add_argument(
        "--trace", action="store_true", help="tracemalloc in the dashboard (slow): top at the end"
    )
    parser.add_argument(
        "--heap", action="store_true", help="at every sample, pymalloc's and glibc's shares"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="one more dashboard setting for every run (e.g. dashboard_gc_sweep_minutes=3)",
    )
    args = parser.parse_args(argv)
    raise_nofile()
    extra = dict(pair.split("=", 1) for pair in args.set)
    plan = SoakPlan(
        args.minutes,
        args.every,
        args.segment_rate,
        census=args.census,
        look=args.look,
        trace=args.trace,
        heap=args.heap,
    )
    settings = ("on", "off") if args.freeze == "both" else (args.freeze,)
    runs = []
    with (
        Child("simulator", simproc.main) as sim,
        Child("churn", churn.main) as viewers,
    ):
        base_url = sim.call("base_url")
        for setting in settings:
            runs.append(soak(plan, setting, sim, viewers, base_url, extra))
    print(markdown(plan, runs))
    return 0


def soak(
    plan: SoakPlan,
    setting: str,
    sim: Child,
    viewers: Child,
    base_url: str,
    extra: dict[str, str] | None = None,
) -> Run:
    """One run of the churn against a fresh dashboard with ``setting``'s collector (and
    ``extra`` settings, as the environment would give them)."""
    run = Run(setting)
    overrides = {**SESSION, **(extra or {}), **SETTINGS[setting]}
    with Child(f"soak-{setting}", proxies.main, "ours", base_url, VIEWER_QUEUE, overrides) as px:
        port, token = px.call("port"), px.call("token")
        if plan.trace:
            px.call("trace_start")
        cookie = _session_cookie(port, px.call("signin"))
        low, high = plan.viewers
        viewers.call("start", port=port, token=token, cookie=cookie, low=low, high=high)
        sim.call("rate", per_second=plan.segment_rate)
        calls = Calls(sim, plan)
        began = time.monotonic()
        next_sample = 0.0
        _say(f"freeze {setting}: {plan.minutes:g} min, RSS every {plan.every:g} s")
        while (elapsed := time.monotonic() - began) < plan.minutes * 60 - 0.5:
            calls.tick(elapsed)
            viewers.call("calls", sids=calls.live_sids())
            if elapsed >= next_sample:
                run.samples.append(_sample(px, viewers, elapsed, calls.started, plan.heap))
                _say(_line(run.samples[-1]))
                next_sample += plan.every
            time.sleep(max(0.0, 1.0 - (time.monotonic() - began - elapsed)))
        run.samples.append(_sample(px, viewers, time.monotonic() - began, calls.started, plan.heap))
        stats = viewers.call("stats")
        run.errors = stats.pop("errors", {})
        run.counts = {k: v for k, v in stats.items() if isinstance(v, int)}
        run.counts["calls"] = calls.started
        run.counts["drops"] = calls.drops
        run.load = load_average()
        if plan.look:
            run.lingering = px.call("lingering", timeout=300)
        if plan.trace:
            run.traced = px.call("trace_top", timeout=600)
        if plan.heap:
            found = px.call("orphans", timeout=300)
            _say(f"deflate contexts of no open connection: {found['closed']}")
            for chain in found["chains"]:
                _say("  " + " < ".join(chain))
        if plan.trace:
            found = px.call("sweep_trace", timeout=600)
            _say(f"a full collection now: {found['collected']} objects, {found['finalized']}")
            for row in found["rows"]:
                _say(f"  freed: {row}")
        if plan.census:
            run.census = px.call("census", timeout=300)
        viewers.call("close_all")
        sim.call("rate", per_second=None)
        calls.end_all()
    return run


class Calls:
    """About one new call a second; each ends after a while; now and then a drop."""

    def __init__(self, sim: Child, plan: SoakPlan) -> None:
        self.sim = sim
        self.plan = plan
        self.rng = random.Random(7)
        self.live: dict[str, float] = {}  # sid -> when it ends (seconds into the run)
        self.started = 0
        self.drops = 0
        self._next_drop = plan.drop_every

    def tick(self, now: float) -> None:
        for sid, ends in list(self.live.items()):
            if ends <= now:
                del self.live[sid]
                self.sim.call("end_call", sid=sid)
        if self.rng.random() < 0.98:  # about one a second, not like clockwork
            self.live[self.sim.call("add_call")] = now + self.rng.uniform(*self.plan.call_life)
            self.started += 1
        if now >= self._next_drop and self.live:
            self.sim.call("drop", sid=self.rng.choice(list(self.live)))
            self.drops += 1
            self._next_drop += self.plan.drop_every

    def live_sids(self) -> list[str]:
        return list(self.live)

    def end_all(self) -> None:
        for sid in self.live:
            self.sim.call("end_call", sid=sid)
        self.live.clear()


def _sample(px: Child, viewers: Child, elapsed: float, calls: int, heap: bool) -> Sample:
    info = px.call("gcinfo")
    if heap:
        _say("  heap MiB: " + ", ".join(f"{k} {v:.1f}" for k, v in px.call("heap").items()))
    seen = viewers.call("stats")
    return Sample(
        elapsed,
        rss_kib(px.pid) / 1024,
        calls,
        seen.get("sessions", 0),
        seen.get("viewers", 0),
        info["streams"],
        info["frozen"],
    )


def _session_cookie(port: int, link: str) -> str:
    """Follow a sign-in link once; the session cookie it sets (``name=value``)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", link)
        response = conn.getresponse()
        response.read()
        cookies = response.headers.get_all("set-cookie") or []
    finally:
        conn.close()
    return "; ".join(c.split(";", 1)[0] for c in cookies)


def _line(s: Sample) -> str:
    return (
        f"{s.t:6.0f} s  RSS {s.rss_mib:6.1f} MiB  calls {s.calls:5d}  sessions {s.sessions:6d}  "
        f"viewers {s.viewers:3d}  streams {s.streams:4d}  frozen {s.frozen:8d}"
    )


def markdown(plan: SoakPlan, runs: list[Run]) -> str:
    """The RSS over time of each run side by side, then what to read off it."""
    lines = [
        f"# Soak: {plan.minutes:g} min of churn per setting",
        "",
        f"- machine: {machine().describe()}; load average at the end: {load_average()}",
        f"- churn: ~1 new call/s living {plan.call_life[0]:g}-{plan.call_life[1]:g} s, "
        f"{plan.segment_rate:g} final segments/s per call, an upstream drop every "
        f"{plan.drop_every:g} s, {plan.viewers[0]}-{plan.viewers[1]} viewers coming and going",
        "",
        "| time | " + " | ".join(f"RSS MiB, freeze {r.setting}" for r in runs) + " |",
        "| ---: | " + " | ".join("---:" for _ in runs) + " |",
    ]
    for i, sample in enumerate(runs[0].samples):
        cells = [f"{r.samples[i].rss_mib:.1f}" if i < len(r.samples) else "" for r in runs]
        lines.append(f"| {_clock(sample.t)} | " + " | ".join(cells) + " |")
    lines += ["", "| | " + " | ".join(f"freeze {r.setting}" for r in runs) + " |"]
    lines.append("| --- | " + " | ".join("---:" for _ in runs) + " |")
    settle = min(300.0, plan.minutes * 30)  # five minutes, or half a short run
    marks = [m for m in (1, 5, 10, 30, 60) if m * 60 <= plan.minutes * 60 + 1]
    rows: list[tuple[str, Any]] = [
        (f"RSS at {m} min, MiB", lambda r, m=m: f"{r.rss_at(m * 60):.1f}") for m in marks
    ]
    rows += [
        ("peak RSS, MiB", lambda r: f"{r.peak:.1f}"),
        (f"RSS at {_clock(settle)}, MiB", lambda r: f"{r.rss_at(settle):.1f}"),
        (f"growth after {_clock(settle)}, %", lambda r: f"{r.growth_after(settle):.1f}"),
        ("levels off at (growth < 10 % after)", _level_off),
        ("calls started", lambda r: f"{r.counts.get('calls', 0):,}"),
        ("SSE sessions (resumes / resets)", _sessions),
        ("upstream drops", lambda r: f"{r.counts.get('drops', 0)}"),
        ("viewer errors", lambda r: f"{sum(r.errors.values())}"),
        ("load average at the end", lambda r: r.load),
    ]
    for name, get in rows:
        lines.append(f"| {name} | " + " | ".join(get(r) for r in runs) + " |")
    if len(runs) == 2:
        lines.append(f"\n- peak ratio, on / off: {runs[0].peak / runs[1].peak:.2f}x")
    for r in runs:
        for error, count in r.errors.items():
            lines.append(f"- freeze {r.setting}: {count} x {error}")
        if r.census is not None:
            kinds = ", ".join(f"{name} {n}" for name, n in r.census["by_type"][:12])
            lines.append(
                f"- freeze {r.setting}: cyclic garbage at the end: {r.census['total']:,} "
                f"objects ({kinds or 'none'})"
            )
        lines += _looked(r)
    return "\n".join(lines)


def _level_off(r: Run) -> str:
    t = r.level_off()
    return "never" if t is None else f"{_clock(t)} (then +{r.growth_after(t):.1f} %)"


def _looked(r: Run) -> list[str]:
    """What the ended streams kept, by part, and tracemalloc's top, when asked for."""
    lines: list[str] = []
    if r.lingering is not None:
        found = r.lingering
        lines += [
            "",
            f"freeze {r.setting}: what the {found['ended']} ended streams (of "
            f"{found['streams']}) keep, median {found['frames_median']} frames each:",
            "",
            "| part | median KiB per ended stream | all ended streams, MiB |",
            "| --- | ---: | ---: |",
        ]
        for name, (mid, total) in found["parts"].items():
            lines.append(f"| {name} | {mid / 1024:.1f} | {total / 2**20:.2f} |")
    if r.traced:
        lines += ["", f"freeze {r.setting}: tracemalloc, live at the end, by traceback:", ""]
        lines += ["| where (newest first) | MiB | blocks |", "| --- | ---: | ---: |"]
        for name, size, count in r.traced:
            lines.append(f"| {name} | {size / 2**20:.2f} | {count:,} |")
    return lines


def _sessions(r: Run) -> str:
    c = r.counts
    return f"{c.get('sessions', 0):,} ({c.get('resumes', 0):,} / {c.get('resets', 0):,})"


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def _say(message: str) -> None:
    print(f"[soak] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
