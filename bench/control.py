"""The bench's child processes and the pipe that drives them.

The orchestrator is synchronous: :meth:`Child.call` sends a command and waits for
its answer. Each child runs an asyncio loop; :func:`serve` reads commands off the
pipe without blocking that loop, runs each handler (plain or async) as its own
task and sends back what it returned, or the traceback. ``stop`` ends
:func:`serve`; the child cleans up and exits, and :meth:`Child.stop` waits for
that (and terminates a child that does not exit in time).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import multiprocessing
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any, Self

from bench.procstat import raise_nofile

Handler = Callable[..., Any]


class ChildError(RuntimeError):
    """A command failed in a child process; the message holds its traceback."""


class Child:
    """A spawned process running ``target(conn, *args)``; a context manager."""

    def __init__(self, name: str, target: Callable[..., None], *args: Any) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.name = name
        self._conn, child_conn = ctx.Pipe()
        self.process = ctx.Process(target=target, args=(child_conn, *args), name=name, daemon=True)

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    def call(self, command: str, timeout: float = 120.0, **kwargs: Any) -> Any:
        self._conn.send((command, kwargs))
        if not self._conn.poll(timeout):
            raise TimeoutError(f"{self.name}: no answer to {command} within {timeout:g} s")
        status, value = self._conn.recv()
        if status == "error":
            raise ChildError(f"{self.name}: {command} failed:\n{value}")
        return value

    def start(self) -> Self:
        self.process.start()
        return self

    def stop(self) -> None:
        if self.process.is_alive():
            with contextlib.suppress(OSError):  # it may have gone already
                self._conn.send(("stop", {}))
            self.process.join(15)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
        self._conn.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def child_setup(name: str) -> None:
    """What every child does first: more file descriptors, warnings-only logging."""
    raise_nofile()
    logging.basicConfig(
        level=logging.WARNING, format=f"[{name}] %(levelname)s %(name)s: %(message)s"
    )


async def serve(conn: Connection, handlers: dict[str, Handler]) -> None:
    """Answer commands from ``conn`` until ``stop`` (or the orchestrator goes away)."""
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    running: set[asyncio.Task[None]] = set()

    async def answer(command: str, kwargs: dict[str, Any]) -> None:
        try:
            result = handlers[command](**kwargs)
            if inspect.isawaitable(result):
                result = await result
            conn.send(("ok", result))
        except Exception:
            conn.send(("error", traceback.format_exc()))

    def readable() -> None:
        try:
            command, kwargs = conn.recv()
        except EOFError:
            stopped.set()
            return
        if command == "stop":
            stopped.set()
            return
        task = loop.create_task(answer(command, kwargs))
        running.add(task)
        task.add_done_callback(running.discard)

    loop.add_reader(conn.fileno(), readable)
    try:
        await stopped.wait()
    finally:
        loop.remove_reader(conn.fileno())
        for task in running:
            task.cancel()


async def serving_port(server: Any, task: asyncio.Task[None]) -> int:
    """Await a uvicorn server's start (``task`` runs its ``serve()``); its port.

    uvicorn offers no started event; its own flag is the only signal there is.
    """
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.01)
    return int(server.servers[0].sockets[0].getsockname()[1])
