"""What the kernel says about a process and the machine: /proc readers, no dependency."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of ``pid`` so far (``utime``, ``stime`` of /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    # The command name (field 2) may hold spaces; the fields after it are plain.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) / _TICKS, int(fields[12]) / _TICKS


def machine_cpu() -> dict[str, float]:
    """CPU seconds the whole machine spent so far, all cores (/proc/stat): ``tasks``
    (user, nice, system: what processes are charged), ``softirq`` (network processing,
    loopback included, charged to no process) and ``steal`` (taken by the hypervisor)."""
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq, steal = (
            int(x) / _TICKS for x in f.readline().split()[1:9]
        )
    return {"tasks": user + nice + system, "softirq": irq + softirq, "steal": steal}


def all_cpu() -> dict[int, tuple[str, float]]:
    """Every process's name and CPU seconds so far (those that vanish while read are skipped)."""
    found = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            found[int(entry.name)] = (name, (int(fields[11]) + int(fields[12])) / _TICKS)
    return found


def top_consumers(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], skip: set[int]
) -> list[tuple[str, float]]:
    """``(name[pid], CPU seconds)`` of the processes that used the most CPU in between."""
    used = [
        (f"{name}[{pid}]", seconds - before.get(pid, (name, 0.0))[1])
        for pid, (name, seconds) in after.items()
        if pid not in skip
    ]
    return sorted((u for u in used if u[1] > 0), key=lambda u: -u[1])[:3]


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (``VmRSS`` of /proc/<pid>/status)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def raise_nofile() -> int:
    """Raise this process's open-file limit to its hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = 1 << 20 if hard == resource.RLIM_INFINITY else hard
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (other work on the machine skews the numbers)."""
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


@dataclass(frozen=True)
class Machine:
    cores: int
    cpu_model: str
    python: str
    memory_gib: float
    nofile: int

    def describe(self) -> str:
        return (
            f"{self.cores} cores ({self.cpu_model}), {self.memory_gib:.0f} GiB, "
            f"Python {self.python}, RLIMIT_NOFILE {self.nofile}"
        )


def machine() -> Machine:
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        total_kib = int(f.readline().split()[1])
    return Machine(
        cores=len(os.sched_getaffinity(0)),
        cpu_model=model,
        python=platform.python_version(),
        memory_gib=total_kib / 2**20,
        nofile=resource.getrlimit(resource.RLIMIT_NOFILE)[0],
    )


def source_version(package: Path) -> str:
    """Which code was measured: the git commit of ``package``, and whether it has local edits."""
    try:
        sha = _git(package, "rev-parse", "--short", "HEAD")
        edited = _git(package, "status", "--porcelain", "--", ".")
    except (OSError, subprocess.CalledProcessError):
        return f"{package} (not a git checkout)"
    return f"{package} at {sha}" + (" with uncommitted edits" if edited else "")


def _git(where: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=where, capture_output=True, text=True, check=True, timeout=10
    )
    return done.stdout.strip()
