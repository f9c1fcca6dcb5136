"""The reference: nginx + nchan (C), fed by a bridge with one upstream per Burki stream.

nginx runs as ONE process (``master_process off``, one worker) so its CPU time and
memory are read off one pid, like our proxy's. Viewers subscribe over nchan's
EventSource endpoint (``/sub/<sid>``, several channels as ``/sub/a,b,c``); the
bridge holds one WebSocket per call to the simulator (as our relay does) and
publishes each message's bytes unchanged to ``/pub/<sid>``, in order. The bridge
runs in this child's loop: its CPU is this process's, reported apart ("publisher"),
never counted against nginx.

Commands: ``port``, ``token`` (None), ``pid`` (nginx's), ``follow`` (start bridging
calls), ``gc`` (an empty dict: nginx has no collector).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import tempfile
from multiprocessing.connection import Connection
from pathlib import Path

import httpx
import websockets

from bench.control import child_setup, serve
from bench.simproc import API_KEY

MODULE = Path("/usr/lib/nginx/modules/ngx_nchan_module.so")

CONF = """\
load_module {module};
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 40000;
error_log {prefix}/error.log warn;
pid {prefix}/nginx.pid;
events {{ worker_connections 30000; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/body;
  nchan_shared_memory_size 128m;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location ~ ^/pub/(\\w+)$ {{
      nchan_publisher;
      nchan_channel_id $1;
      nchan_message_buffer_length 500;
      nchan_message_timeout 10m;
    }}
    location ~ ^/sub/([\\w,]+)$ {{
      nchan_subscriber eventsource;
      nchan_channel_id $1;
      nchan_channel_id_split_delimiter ",";
      nchan_max_channel_id_length 4096;
      nchan_subscriber_first_message newest;
    }}
  }}
}}
"""


def missing() -> str | None:
    """Why the reference cannot run here, or None when it can."""
    if shutil.which("nginx") is None:
        return "nginx is not installed"
    if not MODULE.exists():
        return f"nchan is not installed ({MODULE} missing)"
    return None


def stream_path(sids: list[str]) -> str:
    return "/sub/" + ",".join(sids)


def main(conn: Connection, base_url: str) -> None:
    child_setup("nchan")
    with tempfile.TemporaryDirectory(prefix="burki-bench-nchan-") as prefix:
        port = _free_port()
        conf = Path(prefix) / "nginx.conf"
        conf.write_text(CONF.format(module=MODULE, prefix=prefix, port=port))
        nginx = subprocess.Popen(["nginx", "-c", str(conf), "-p", prefix])
        try:
            asyncio.run(_run(conn, nginx.pid, port, "ws" + base_url.removeprefix("http")))
        finally:
            nginx.terminate()
            nginx.wait(10)


async def _run(conn: Connection, pid: int, port: int, ws_base: str) -> None:
    await _wait_listening(port)
    bridges: set[asyncio.Task[None]] = set()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:

        def follow(sids: list[str]) -> None:
            for sid in sids:
                url = f"{ws_base}/live-transcript/{sid}?token={API_KEY}"
                task = asyncio.create_task(_bridge(url, f"/pub/{sid}", client))
                bridges.add(task)
                task.add_done_callback(bridges.discard)

        try:
            await serve(
                conn,
                {
                    "port": lambda: port,
                    "token": lambda: None,
                    "pid": lambda: pid,
                    "follow": follow,
                    "gc": dict,
                },
            )
        finally:
            for task in list(bridges):
                task.cancel()
            await asyncio.gather(*bridges, return_exceptions=True)


async def _bridge(url: str, publish: str, client: httpx.AsyncClient) -> None:
    """One upstream per call: each message's bytes go to nchan unchanged, in order."""
    with contextlib.suppress(websockets.ConnectionClosed):
        async with websockets.connect(url) as ws:
            async for message in ws:
                body = message.encode() if isinstance(message, str) else message
                (await client.post(publish, content=body)).raise_for_status()


async def _wait_listening(port: int, limit: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
