"""A real PostgreSQL (Debian's) on a free port in a temporary folder, for the store's tests.

``initdb`` and ``postgres`` refuse to run as root, so under root they run as the
``postgres`` user (Debian's package makes it) in a folder handed to it. Without
the binaries the tests that need PostgreSQL skip with a clear message, or fail
when ``REQUIRE_POSTGRES=1`` (CI sets it). Each test gets a fresh database of its
own on one server per test session; :meth:`PostgresServer.stop` and
:meth:`~PostgresServer.start` take it away and bring it back under a running node.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.redisserver import free_port
from webapp.store.database import database_url as parse_url
from webapp.store.store import Store, open_store

START_WAIT = 30.0  # seconds postgres has to accept connections
ROOT = Path("/usr/lib/postgresql")
MESSAGE = "store tests need Debian's postgresql: apt-get install -y postgresql"


def bindir_or_skip() -> Path:
    """The newest ``/usr/lib/postgresql/<ver>/bin``, or skip (fail with REQUIRE_POSTGRES=1)."""
    found = sorted(ROOT.glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
    if found:
        return found[-1].parent
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        pytest.fail(MESSAGE + " (REQUIRE_POSTGRES=1)")
    pytest.skip(MESSAGE)


def _user() -> str | None:
    """Who runs the server: ``postgres`` when we are root (it refuses root), else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("running as root needs the postgres user (Debian's postgresql package)")
    return "postgres"


@dataclass
class PostgresServer:
    bindir: Path
    folder: Path
    port: int
    user: str | None
    process: subprocess.Popen[bytes] | None = None
    _names: Iterator[int] = field(default_factory=itertools.count)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str) -> None:
        subprocess.run(
            command, check=True, user=self.user, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def init(self) -> None:
        data = str(self.folder / "data")
        self._run(
            str(self.bindir / "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "--no-sync"
        )

    def start(self) -> None:
        command = [
            str(self.bindir / "postgres"),
            "-D", str(self.folder / "data"),
            "-p", str(self.port),
            "-k", str(self.folder),
            "-c", "listen_addresses=127.0.0.1",
            "-c", "fsync=off",
            "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, user=self.user, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + START_WAIT
        while time.monotonic() < deadline:
            if self._ready():
                return
            if self.process.poll() is not None:
                raise AssertionError(f"postgres exited with {self.process.returncode}")
            time.sleep(0.05)
        raise AssertionError("postgres did not accept connections")

    def _ready(self) -> bool:
        isready = [str(self.bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        try:
            with socket.create_connection(("127.0.0.1", self.port), 0.2):
                pass
        except OSError:
            return False
        return subprocess.run(isready, check=False).returncode == 0

    def stop(self) -> None:
        """Fast shutdown (SIGINT): clients are disconnected, the data stays."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(2)
            self.process.wait(30)
        self.process = None

    def new_database(self) -> str:
        """The URL of a fresh, empty database on this server."""
        name = f"t{os.getpid()}_{next(self._names)}"
        psql = str(self.bindir / "psql")
        self._run(psql, "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                  "-d", "postgres", "-c", f"CREATE DATABASE {name}")  # fmt: skip
        return self.url(name)


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL of its own (a test that stops it under a running node takes one)."""
    bindir, user = bindir_or_skip(), _user()
    folder = Path(tempfile.mkdtemp(prefix="burki-postgres-"))
    try:
        if user is not None:
            shutil.chown(folder, user, user)
        server = PostgresServer(bindir, folder, free_port(), user)
        server.init()
        server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL for the whole test session (each test makes its own database)."""
    with postgres_server() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database()


@pytest.fixture
async def store_db(database_url: str) -> AsyncIterator[Store]:
    """An open store on an empty database (SQLite, then PostgreSQL), its schema current."""
    store = await open_store(parse_url(database_url))
    try:
        yield store
    finally:
        await store.close()
