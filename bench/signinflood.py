"""``python -m bench.signinflood``: how long a supervisor's page takes while sign-ins flood in.

The dashboard and the simulator run in a child process (as they would on their
own machine); this process signs a supervisor in, then loads a call page alone
and again while ``--flood`` wrong sign-ins from one address arrive at once.
Prints the page-load times (median and worst of ``--loads``), how the flood was
answered, and the child's peak memory (RSS high-water mark).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import re
import statistics
import tempfile
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path

import httpx

from bench.control import serving_port

PASSWORD = "correct horse battery staple"
KEY = "bench-key"


def serve(conn: Connection, folder: str) -> None:
    asyncio.run(_serve(conn, Path(folder)))


async def _serve(conn: Connection, folder: Path) -> None:
    from webapp import parts
    from webapp.access.users import Role
    from webapp.app import create_app
    from webapp.server import DashboardServer, uvicorn_config
    from webapp.settings import Settings
    from webapp.simulator import Simulator

    sim = Simulator(api_key=KEY, autoplay=False)
    await sim.start()
    sid = sim.add_call()
    settings = Settings(
        burki_api_key=KEY,
        burki_base_url=sim.base_url,
        dashboard_users_file=folder / "users.toml",
        dashboard_tokens_file=folder / "tokens.toml",
        dashboard_audit_file=folder / "audit.jsonl",
        dashboard_session_secret="bench-session-secret-0123456789abcdef",
        dashboard_log_level="warning",
    )
    access = parts.access(settings)
    access.users.add("sup", PASSWORD, Role.SUPERVISOR)
    app = create_app(settings, access=access)
    config = uvicorn_config(app, settings, host="127.0.0.1", port=0, access_log=False)
    server = DashboardServer(config, app)
    task = asyncio.create_task(server.serve())
    port = await serving_port(server, task)
    conn.send((f"http://127.0.0.1:{port}", sid))
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # "stop"
    conn.send(_peak_rss_mib())
    server.should_exit = True
    await task
    await sim.stop()


def _peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _csrf(client: httpx.AsyncClient, base: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', (await client.get(f"{base}/signin")).text)
    assert found
    return found[1]


async def _loads(client: httpx.AsyncClient, url: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        assert (await client.get(url)).status_code == 200
        times.append(time.perf_counter() - start)
    return times


async def measure(base: str, sid: str, flood: int, loads: int) -> None:
    limits = httpx.Limits(max_connections=flood + 10)
    async with (
        httpx.AsyncClient(timeout=120) as supervisor,
        httpx.AsyncClient(timeout=120, limits=limits) as attacker,
    ):
        data = {"name": "sup", "password": PASSWORD, "csrf": await _csrf(supervisor, base)}
        assert (await supervisor.post(f"{base}/signin", data=data)).status_code == 303
        page = f"{base}/calls/{sid}"
        quiet = await _loads(supervisor, page, loads)
        csrf = await _csrf(attacker, base)

        async def guess(n: int) -> int:
            form = {"name": f"user{n}", "password": "not the password", "csrf": csrf}
            return (await attacker.post(f"{base}/signin", data=form)).status_code

        flooding = asyncio.gather(*(guess(n) for n in range(flood)))
        await asyncio.sleep(0.05)  # let the flood arrive first
        loud = await _loads(supervisor, page, loads)
        answers = Counter(await flooding)
    print(f"page load alone:        median {_ms(quiet)} ms, worst {max(quiet) * 1000:.0f} ms")
    print(f"page load during flood: median {_ms(loud)} ms, worst {max(loud) * 1000:.0f} ms")
    print(f"{flood} concurrent wrong sign-ins answered: {dict(sorted(answers.items()))}")


def _ms(times: list[float]) -> str:
    return f"{statistics.median(times) * 1000:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.signinflood")
    parser.add_argument("--flood", type=int, default=200)
    parser.add_argument("--loads", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="burki-flood-") as folder:
        parent, child = multiprocessing.Pipe()
        process = multiprocessing.Process(target=serve, args=(child, folder), daemon=True)
        process.start()
        base, sid = parent.recv()
        try:
            asyncio.run(measure(base, sid, args.flood, args.loads))
        finally:
            parent.send("stop")
            print(f"dashboard peak memory: {parent.recv():.0f} MiB")
            process.join(10)


if __name__ == "__main__":
    main()
