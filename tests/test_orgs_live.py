"""Organisations of the org book, served by a real dashboard (uvicorn on 127.0.0.1) in
front of real simulators, each of which accepts only its own organisation's key: each
organisation's streams come from its own Burki, and one added, re-keyed or removed while
the dashboard runs takes effect without a restart."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.conftest import SIM_KEY
from tests.live import LiveApp, running_app
from tests.postgres import postgres_server
from webapp.orgs.book import OrgBook
from webapp.orgs.model import Org
from webapp.orgs.runner import REKEYED, REMOVED
from webapp.orgs.sealing import MasterKey
from webapp.orgs.tenants import UnknownOrg
from webapp.relay.frames import Frame
from webapp.relay.subscriber import Subscriber
from webapp.simulator import Simulator
from webapp.store.database import database_url as parse_url
from webapp.store.store import open_store
from webapp.wire.streamkey import StreamKey

MASTER = Fernet.generate_key().decode()
ACME_KEY, ACME_NEW_KEY, GLOBEX_KEY = "acme-key-7c1d9e", "acme-key-2-4b8f0a", "globex-key-3e5a"


@pytest.fixture
async def acme_sim() -> AsyncIterator[Simulator]:
    async with Simulator(api_key=ACME_KEY, autoplay=False) as simulator:
        yield simulator


@pytest.fixture
async def globex_sim() -> AsyncIterator[Simulator]:
    async with Simulator(api_key=GLOBEX_KEY, autoplay=False) as simulator:
        yield simulator


def store_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'store.sqlite3'}"


async def book_put(folder: Path, *orgs: tuple[Org, str], url: str = "") -> None:
    """What ``burki-dashboard org add`` (or another node's /admin) writes to the store."""
    store = await open_store(parse_url(url or store_url(folder)))
    try:
        book = OrgBook(store.orgs, MasterKey.from_text(MASTER))
        for org, key in orgs:
            await book.put(org, key)
    finally:
        await store.close()


async def book_remove(folder: Path, slug: str) -> None:
    store = await open_store(parse_url(store_url(folder)))
    try:
        await OrgBook(store.orgs, MasterKey.from_text(MASTER)).remove(slug)
    finally:
        await store.close()


def serving(
    sim: Simulator, folder: Path, **overrides: object
) -> AbstractAsyncContextManager[LiveApp]:
    settings: dict[str, object] = {
        "database_url": store_url(folder),
        "burki_master_key": MASTER,
        "org_refresh_seconds": 3600,  # the tests read the book when they mean to
    }
    return running_app(sim, **(settings | overrides))


async def until_frame(sub: Subscriber, wanted: str, timeout: float = 10.0) -> list[Frame]:
    """Every frame up to the one whose status message is ``wanted``, and the close after."""
    seen: list[Frame] = []
    async with asyncio.timeout(timeout):
        while (batch := await sub.get_batch()) is not None:
            seen += batch
    assert any(f.type == "status" and f.data.get("message") == wanted for f in seen), seen
    return seen


async def test_each_organisation_streams_from_its_own_burki_with_its_own_key(
    tmp_path: Path,
) -> None:
    keys = {"default": SIM_KEY, "acme": ACME_KEY, "globex": GLOBEX_KEY}
    async with Simulator(orgs=keys, autoplay=False) as burki:
        await book_put(
            tmp_path,
            (Org("acme", "Acme Support", burki.base_url), ACME_KEY),
            (Org("globex", "Globex Sales", burki.base_url), GLOBEX_KEY),
        )
        calls = {org: burki.org(org).add_call() for org in keys}
        wanted = [StreamKey("call", sid, org) for org, sid in calls.items()]
        async with serving(burki, tmp_path) as live:
            assert live.state.tenants.slugs == set(keys)
            with live.hub.watch(wanted, {}):
                for org, sid in calls.items():
                    await burki.org(org).wait_for_connections(f"call:{sid}", 1, timeout=10)
                for org, sid in calls.items():  # REST as well: each organisation's own key
                    await live.state.tenants.get(org).rest.call(sid)
    for org, sid in calls.items():
        asked = burki.requests.naming(sid)
        assert {"ws", "rest"} <= {entry.channel for entry in asked}
        assert {entry.org for entry in asked} == {org}, asked  # its own key, and only it


async def test_an_organisation_added_re_keyed_and_removed_at_runtime_takes_effect_at_once(
    sim: Simulator,
    acme_sim: Simulator,
    globex_sim: Simulator,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    await book_put(tmp_path, (Org("acme", "Acme Support", acme_sim.base_url), ACME_KEY))
    acme_call, globex_call = acme_sim.add_call(), globex_sim.add_call()
    async with serving(sim, tmp_path) as live:
        runner, hub = live.state.orgs, live.hub
        assert runner is not None and live.state.tenants.slugs == {"default", "acme"}
        with pytest.raises(UnknownOrg):
            hub.stream(StreamKey("call", globex_call, "globex"))

        # Added by the CLI (or another node): served after the next read of the book.
        await book_put(tmp_path, (Org("globex", "Globex Sales", globex_sim.base_url), GLOBEX_KEY))
        await runner.refresh()
        globex_key = StreamKey("call", globex_call, "globex")
        with hub.watch([globex_key], {}) as globex_view:
            await globex_sim.wait_for_connections(f"call:{globex_call}", 1, timeout=10)

            # Re-keyed (a new key, here on another Burki that takes only the new key): the
            # old key's streams end, saying why; a new stream uses the new key.
            acme_key = StreamKey("call", acme_call, "acme")
            async with Simulator(api_key=ACME_NEW_KEY, autoplay=False) as moved:
                moved_call = moved.add_call()
                with hub.watch([acme_key], {}) as acme_view:
                    await acme_sim.wait_for_connections(f"call:{acme_call}", 1, timeout=10)
                    old_rest = live.state.tenants.get("acme").rest
                    await book_put(tmp_path, (Org("acme", "Acme", moved.base_url), ACME_NEW_KEY))
                    await runner.refresh()
                    await until_frame(acme_view.sub, REKEYED)
                assert live.state.tenants.get("acme").rest is not old_rest
                assert old_rest._client.is_closed
                assert live.state.tenants.get("acme").org.name == "Acme"
                with hub.watch([StreamKey("call", moved_call, "acme")], {}):
                    await moved.wait_for_connections(f"call:{moved_call}", 1, timeout=10)

            # Removed: its viewers are told in band, its parts stop, its key is not used.
            globex_rest = live.state.tenants.get("globex").rest
            await book_remove(tmp_path, "globex")
            await runner.refresh()
            await until_frame(globex_view.sub, REMOVED)
        assert "globex" not in live.state.tenants.slugs
        assert globex_rest._client.is_closed
        assert not any(key.org == "globex" for key in hub.streams)
        with pytest.raises(UnknownOrg):
            hub.stream(globex_key)
    for key in (ACME_KEY, ACME_NEW_KEY, GLOBEX_KEY, SIM_KEY, MASTER):
        assert key not in caplog.text


async def test_a_database_gone_away_keeps_the_organisations_served_and_says_so_once(
    sim: Simulator, acme_sim: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="webapp.orgs.runner")
    with postgres_server() as database:
        url = database.new_database()
        await book_put(
            tmp_path, (Org("acme", "Acme Support", acme_sim.base_url), ACME_KEY), url=url
        )
        async with serving(sim, tmp_path, database_url=url, database_timeout=2) as live:
            runner = live.state.orgs
            assert runner is not None
            database.stop()
            for _ in range(3):
                await runner.refresh()
            assert live.state.tenants.slugs == {"default", "acme"}
            said = [r for r in caplog.records if "cannot be read" in r.getMessage()]
            assert len(said) == 1 and said[0].levelno == logging.WARNING
            database.start()
            await runner.refresh()
            assert "reads again" in caplog.text
            assert live.state.tenants.slugs == {"default", "acme"}


async def until(done: Callable[[], bool], timeout: float = 20.0) -> None:
    """Await a change no event announces to the test: the refresh task reading the book."""
    async with asyncio.timeout(timeout):
        while not done():  # noqa: ASYNC110 (the refresh task sets nothing the test can await)
            await asyncio.sleep(0.05)


def cli(folder: Path, *args: str, key: str = "") -> subprocess.CompletedProcess[str]:
    """``burki-dashboard org ARGS`` as an operator runs it, beside the running server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BURKI_", "DASHBOARD_"))}
    env |= {"DATABASE_URL": store_url(folder), "BURKI_MASTER_KEY": MASTER}
    command = [sys.executable, "-m", "webapp", "org", *args]
    return subprocess.run(command, input=key, env=env, capture_output=True, text=True, timeout=60)


async def test_the_cli_adding_and_removing_an_organisation_beside_a_running_server_takes_effect(
    sim: Simulator, globex_sim: Simulator, tmp_path: Path
) -> None:
    call = globex_sim.add_call()
    async with serving(sim, tmp_path, org_refresh_seconds=0.2) as live:
        add = ("add", "globex", "--name", "Globex Sales", "--url", globex_sim.base_url)
        done = await asyncio.to_thread(cli, tmp_path, *add, "--key-stdin", key=GLOBEX_KEY)
        assert done.returncode == 0, done.stderr
        await until(lambda: "globex" in live.state.tenants)
        with live.hub.watch([StreamKey("call", call, "globex")], {}) as viewing:
            await globex_sim.wait_for_connections(f"call:{call}", 1, timeout=10)
            done = await asyncio.to_thread(cli, tmp_path, "remove", "globex")
            assert done.returncode == 0, done.stderr
            await until_frame(viewing.sub, REMOVED, timeout=20)
        assert "globex" not in live.state.tenants
