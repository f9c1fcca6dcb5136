"""Loop the cluster's "same frame, same id on every node" tests under CPU competition.

``python -m bench.stress_cluster_ids [--rounds N] [--burners K] [--pytests P] [TEST ...]``

Each round runs the given tests (default: ``tests/test_cluster_attention.py``) in a
fresh pytest process while ``K`` busy loops (``nice -n 19``) and ``P`` extra pytest
processes of the same tests compete for the CPU: the load under which the dead-air
test once saw its two nodes name one frame ``-3`` and ``-7``. Any cluster test loops the
same way: ``python -m bench.stress_cluster_ids --pytests 1 tests/test_cluster_orgs_nodes.py``
is the loop that showed a holder's 0.4 s test keepalive reconnecting under load (two
upstream sockets in total, never two at once). Prints each failure's
output and, at the end, failures over rounds and the rounds' wall times. Exit status:
1 when any round failed. Run it under ``nice -n 10`` on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ["tests/test_cluster_attention.py"]
BURN = "while True: pass"


@contextmanager
def competition(burners: int, pytests: int, tests: list[str]) -> Iterator[None]:
    """``burners`` niced busy loops and ``pytests`` looping pytest runs, stopped on exit."""
    procs: list[subprocess.Popen[bytes]] = []
    loop = f"while true; do {sys.executable} -m pytest -q -p no:cacheprovider {' '.join(tests)}"
    loop += " >/dev/null 2>&1; done"
    try:
        for _ in range(burners):
            procs.append(subprocess.Popen(["nice", "-n", "19", sys.executable, "-c", BURN]))
        for _ in range(pytests):
            procs.append(subprocess.Popen(["bash", "-c", loop], cwd=ROOT, start_new_session=True))
        yield
    finally:
        for proc in procs:  # the pytest loops run in sessions of their own: end them whole
            if proc.args[0] == "bash":
                os.killpg(proc.pid, signal.SIGTERM)
            else:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()


def one_round(tests: list[str]) -> tuple[bool, float, str]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return done.returncode == 0, time.monotonic() - started, done.stdout[-4000:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stress_cluster_ids", description=__doc__)
    parser.add_argument("tests", nargs="*", default=DEFAULT)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--burners", type=int, default=2, help="niced busy loops beside")
    parser.add_argument("--pytests", type=int, default=1, help="looping pytest runs beside")
    args = parser.parse_args(argv)
    # A SIGTERM ends the loop like Ctrl-C: the competitors are stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    failures, times = 0, []
    with ExitStack() as stack:
        stack.enter_context(competition(args.burners, args.pytests, args.tests))
        for n in range(1, args.rounds + 1):
            ok, took, output = one_round(args.tests)
            times.append(took)
            print(f"round {n}: {'ok' if ok else 'FAILED'} in {took:.1f} s", flush=True)
            if not ok:
                failures += 1
                print(output, flush=True)
    print(
        f"{failures} of {args.rounds} rounds failed; round time median"
        f" {statistics.median(times):.1f} s, max {max(times):.1f} s"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
