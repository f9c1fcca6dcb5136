"""A real ``redis-server`` (Debian's) on a free port with a temporary folder, for cluster tests.

Without the binary the tests that need it skip with a clear message, or fail
when ``REQUIRE_REDIS=1`` (CI sets it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

START_WAIT = 10.0  # seconds redis-server has to answer


def binary_or_skip(name: str, package: str) -> str:
    """Debian's ``name``, or skip (fail when REQUIRE_REDIS=1) with a clear message."""
    found = shutil.which(name)
    if found:
        return found
    message = f"cluster tests need Debian's {package}: apt-get install -y {package}"
    if os.environ.get("REQUIRE_REDIS") == "1":
        pytest.fail(message + " (REQUIRE_REDIS=1)")
    pytest.skip(message)


def redis_or_skip() -> str:
    return binary_or_skip("redis-server", "redis-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RedisServer:
    """One redis-server process; :meth:`restart` keeps its port and its data (append-only file)."""

    binary: str
    folder: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.folder),
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", "always",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + START_WAIT
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if self.process.poll() is not None:
                raise AssertionError(f"redis-server exited with {self.process.returncode}")
            time.sleep(0.02)
        raise AssertionError("redis-server did not answer")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    binary = redis_or_skip()
    with tempfile.TemporaryDirectory(prefix="burki-redis-") as folder:
        server = RedisServer(binary, Path(folder), free_port())
        server.start()
        try:
            yield server
        finally:
            server.stop()
