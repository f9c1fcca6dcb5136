"""``python -m bench --part longcall``: one long call watched by 200 viewers (issue 27).

A call of 60 minutes' speech: 2,400 final segments (40 a minute), said faster than
people speak (10 a second by default: the call's clock runs 4 minutes, but all that grows
with a call grows as in 60: its segments, the health tally and timeline, the alerts, the
replay log). 200 viewers watch it over one proxy. The proxy's CPU and how many segments
went out so far are sampled twice a second; the table gives the CPU per segment by the
call's minute, from the first to the last: a per-segment cost that grew with the call (a
pass over the whole call per segment) would show as a rising column. Beside the JSON
viewers, one viewer of each page view of a call (the call page's and the captions' HTML
updates): each view renders every frame once, from the call's state, so a view that read
the whole transcript per frame would show too (it did: 2.2 -> 23.5 ms a segment over
2,400 in process, before issue 27's fix). The page viewers are not counted in the
latency, lost and duplicated figures (an HTML update quotes several lines). The
simulator keeps a call's last 2,000 segments: lost and duplicated are counted over those.

The simulator, the proxy and the viewers each run in their own process (``bench.control``).
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass

from bench import proxies, viewers
from bench.control import Child
from bench.procstat import cpu_times, load_average, machine, rss_kib

FLAT_GOAL = 1.25  # the last minutes' CPU per segment at most this times the first's (noisy)
PAGE_VIEWS = ("call", "captions")  # the HTML update streams of a call's pages


@dataclass(frozen=True)
class LongPlan:
    segments: int = 2_400
    minutes: int = 60
    viewers: int = 200
    rate: float = 10.0
    rows: int = 10  # the table's rows of call minutes (the first and last minute besides)
    pages: tuple[str, ...] = PAGE_VIEWS  # one viewer of each of these page views

    @classmethod
    def quick(cls) -> LongPlan:
        return cls(segments=300, viewers=50, rate=20.0, rows=5)


@dataclass
class LongResult:
    plan: LongPlan
    samples: list[tuple[int, float]]  # (segments sent so far, proxy CPU seconds so far)
    rss_kib: tuple[int, int]  # the proxy's at the first segment and after the last
    stats: dict[str, float]
    viewers: int
    pages: int = 0  # page viewers that got their first frame

    def cpu_between(self, first: int, last: int) -> float:
        """Proxy CPU seconds from segment ``first`` going out to segment ``last`` going out."""
        return self._cpu_at(last) - self._cpu_at(first)

    def _cpu_at(self, sent: int) -> float:
        counts = [n for n, _ in self.samples]
        i = min(max(bisect.bisect_left(counts, sent), 1), len(counts) - 1)
        (n0, c0), (n1, c1) = self.samples[i - 1], self.samples[i]
        return c0 + (c1 - c0) * ((sent - n0) / (n1 - n0) if n1 > n0 else 0.0)


def run(plan: LongPlan, sim: Child, clients: Child, base_url: str, queue: int) -> LongResult:
    with Child("ours-proxy", proxies.main, "ours", base_url, queue) as px:
        sid = sim.call("add_call")
        path = proxies.stream_path("ours", [sid])
        port, token = px.call("port"), px.call("token")
        opened = clients.call("open", port=port, path=path, sids=[sid], n=plan.viewers, token=token)
        embed = px.call("embed", sid=sid)  # a page's updates need a session or an embed link
        pages = sum(
            clients.call("open", port=port, path=page_path(view, sid, embed), sids=[], n=1)["ready"]
            for view in plan.pages
        )
        time.sleep(2.0)  # settle: every viewer's snapshot out, the upstream live
        rss_before = rss_kib(px.pid)
        samples = [(0, sum(cpu_times(px.pid)))]
        started = time.time()
        sim.call("rate", per_second=plan.rate)
        while samples[-1][0] < plan.segments:
            time.sleep(0.5)
            said = max((n for n, _ in sim.call("markers", sid=sid)), default=0)
            samples.append((said, sum(cpu_times(px.pid))))
        sim.call("rate", per_second=None)
        time.sleep(2.0)  # drain: the last segments reach every viewer
        samples.append((samples[-1][0], sum(cpu_times(px.pid))))
        rss_after = rss_kib(px.pid)
        marks = sorted(sim.call("markers", sid=sid))
        stats = clients.call("stats", start=started, end=time.time(), sent={sid: marks})
        stats["alive"] = clients.call("alive")  # viewers the relay did not cut as too slow
        clients.call("close_all")
        sim.call("end_call", sid=sid)
    return LongResult(plan, samples, (rss_before, rss_after), stats, opened["ready"], pages)


def page_path(view: str, sid: str, embed_token: str) -> str:
    """The HTML update stream of page view ``view`` of call ``sid``, through an embed link."""
    return f"/embed/live/{view}/call/{sid}?token={embed_token}"


def _blocks(plan: LongPlan) -> list[tuple[int, int]]:
    """The table's rows as ranges of call minutes (1-based, inclusive)."""
    per_row = max(plan.minutes // plan.rows, 1)
    rows = [(1, 1)]
    rows += [(m, min(m + per_row - 1, plan.minutes)) for m in range(1, plan.minutes + 1, per_row)]
    return [*rows, (plan.minutes, plan.minutes)]


def _trend(points: list[tuple[float, float]], minutes: int) -> tuple[float, float, float]:
    """The least-squares line through ``(minute, ms)``: its value at the call's last minute
    over its value at the first (1.0: flat), and the same ratio with the slope two standard
    errors lower and higher (how far the rows' noise lets the line move)."""
    n = len(points)
    if n < 3:
        return float("nan"), float("nan"), float("nan")
    mx, my = sum(x for x, _ in points) / n, sum(y for _, y in points) / n
    spread = sum((x - mx) ** 2 for x, _ in points)
    slope = sum((x - mx) * (y - my) for x, y in points) / spread if spread else 0.0
    residual = sum((y - my - slope * (x - mx)) ** 2 for x, y in points)
    error = (residual / (n - 2) / spread) ** 0.5 if spread else 0.0

    def ratio(b: float) -> float:
        start, end = my + b * (1 - mx), my + b * (minutes - mx)
        return end / start if start > 0 else float("nan")

    return ratio(slope), ratio(slope - 2 * error), ratio(slope + 2 * error)


def markdown(result: LongResult) -> str:
    plan = result.plan
    per_minute = plan.segments / plan.minutes
    lines = [
        "## A long call",
        "",
        f"One call of {plan.minutes} minutes' speech ({plan.segments:,} final segments, "
        f"{per_minute:g} a minute, said at {plan.rate:g} a second), {result.viewers} viewers "
        f"of its JSON events and {result.pages} of its pages' HTML updates "
        f"({', '.join(plan.pages) or 'none'}); {machine().describe()}, load {load_average()}.",
        "",
        "| call minutes | segments | proxy CPU ms per segment | per viewer delivery, us |",
        "| --- | ---: | ---: | ---: |",
    ]
    costs = {}
    for first, last in _blocks(plan):
        a = round((first - 1) * per_minute)
        b = min(round(last * per_minute), result.samples[-1][0])
        if b <= a:
            continue
        ms = result.cpu_between(a, b) * 1000 / (b - a)
        costs[(first, last)] = ms
        span = f"{first}" if first == last else f"{first}-{last}"
        per_viewer = ms * 1000 / max(result.viewers, 1)
        lines.append(f"| {span} | {b - a:,} | {ms:.2f} | {per_viewer:.1f} |")
    rows = [((lo + hi) / 2, ms) for (lo, hi), ms in costs.items() if lo != hi]
    ratio, low, high = _trend(rows, plan.minutes)
    verdict = "met" if ratio <= FLAT_GOAL else "**missed**"
    s = result.stats
    lines += [
        "",
        f"- CPU per segment at the call's end / at its start, by the least-squares line through"
        f" the rows of minutes (one row moves with the machine's load; the single minutes are"
        f" too few segments to judge): {ratio:.2f}x (flat: <= {FLAT_GOAL:g}x): {verdict}; the"
        f" rows' noise lets the line say {low:.2f}x to {high:.2f}x (the slope two standard"
        " errors either way).",
        f"- Proxy RSS {result.rss_kib[0] / 1024:.1f} MiB before the first segment, "
        f"{result.rss_kib[1] / 1024:.1f} MiB after the last.",
        f"- Delivered {int(s['delivered']):,} segments to the viewers; lost {int(s['lost'])}, "
        f"duplicated {int(s['duplicates'])}; p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms; "
        f"{int(s['alive'])} of {result.viewers + result.pages} viewers still connected at the"
        " end (a viewer"
        " that reads too slowly is cut and would resume; these do not, so its rest is lost).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Alone: ``python -m bench.longcall [--quick]``."""
    import argparse

    from bench import simproc
    from bench.procstat import raise_nofile

    parser = argparse.ArgumentParser(prog="python -m bench.longcall", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="300 segments, 50 viewers")
    args = parser.parse_args(argv)
    raise_nofile()
    plan = LongPlan.quick() if args.quick else LongPlan()
    with Child("simulator", simproc.main) as sim, Child("viewers", viewers.main) as clients:
        print(markdown(run(plan, sim, clients, sim.call("base_url"), 256)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
