"""``burki-dashboard embed-link ... --org SLUG`` as an operator runs it: the real CLI process
beside a real dashboard (uvicorn on 127.0.0.1) serving organisations of the org book, one
simulator playing every organisation's Burki with its own key. A link of one organisation
is asked about with that organisation's key only, opens that organisation's page, and
nothing of another's."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import SIM_KEY
from tests.live import SESSION_SECRET, LiveApp, Viewer
from tests.test_access import status_of
from tests.test_embed_links_live import stream_of
from tests.test_orgs_live import GLOBEX_KEY, MASTER, book_put, serving, store_url
from webapp.orgs.model import Org
from webapp.simulator import Simulator

ACME_KEY = "acme-key-embed-0c4f2a"
KEYS = {"default": SIM_KEY, "acme": ACME_KEY, "globex": GLOBEX_KEY}
SAID = "globex caller asks about the renewal"


@pytest.fixture
async def burki() -> AsyncIterator[Simulator]:
    async with Simulator(orgs=KEYS, autoplay=False) as simulator:
        yield simulator


async def cli(folder: Path, sim: Simulator, *args: str) -> tuple[int, str, str]:
    """``burki-dashboard embed-link ARGS`` in its own process, on the dashboard's store, with
    the dashboard's settings (its Burki key, the master key, the session secret)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BURKI_", "DASHBOARD_"))}
    env |= {
        "DATABASE_URL": store_url(folder),
        "DATABASE_TIMEOUT": "5",
        "BURKI_API_KEY": SIM_KEY,
        "BURKI_BASE_URL": sim.base_url,
        "BURKI_MASTER_KEY": MASTER,
        "DASHBOARD_SESSION_SECRET": SESSION_SECRET,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "webapp", "embed-link", *args),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def text_of(client: httpx.AsyncClient, url: str) -> tuple[int, str]:
    answer = await client.get(url)
    return answer.status_code, answer.text


async def test_an_embed_link_made_by_the_cli_for_one_organisation_opens_its_page_alone(
    burki: Simulator, tmp_path: Path
) -> None:
    await book_put(
        tmp_path,
        (Org("acme", "Acme Support", burki.base_url), ACME_KEY),
        (Org("globex", "Globex Sales", burki.base_url), GLOBEX_KEY),
    )
    theirs = burki.org("globex").add_call(assistant_name="Globex bot")
    acmes = burki.org("acme").add_call(assistant_name="Acme bot")
    default = burki.add_call(assistant_name="Default bot")
    async with serving(burki, tmp_path) as live, httpx.AsyncClient(timeout=20) as browser:
        status, out, err = await cli(tmp_path, burki, "call", theirs, "--org", "globex")
        assert status == 0, err
        path = out.strip()
        assert path.startswith(f"/o/globex/embed/calls/{theirs}?token="), path
        assert "globex/call:" + theirs in err  # "opens only globex/call:..."
        code, page = await text_of(browser, live.url + path)
        assert code == 200, page
        stream = stream_of(page)
        assert stream.startswith("/o/globex/embed/live/") and theirs in stream, stream
        viewer = Viewer(live.url, stream).start(browser)
        try:  # the page's own stream: globex's call, as globex's Burki says it
            burki.org("globex").add_segment(theirs, "user", SAID)
            await viewer.wait_for(lambda e: "renewal" in e.data, timeout=15)
        finally:
            await viewer.stop()
        token = path.split("?token=", 1)[1]
        for elsewhere in (  # the same token on another organisation's page opens nothing
            f"/embed/calls/{theirs}?token={token}",
            f"/o/acme/embed/calls/{theirs}?token={token}",
            f"/o/acme/embed/calls/{acmes}?token={token}",
            f"/embed/calls/{default}?token={token}",
            f"/o/globex/embed/wallboard?token={token}",
        ):
            assert await status_of(browser, live.url + elsewhere) in (303, 401, 403, 404)
        # Asked with globex's key alone: acme's and the default organisation's never.
        assert {e.org for e in burki.requests.naming(theirs)} == {"globex"}
        await wallboard_of_one(live, tmp_path, burki, browser, theirs, acmes, default)


async def wallboard_of_one(
    live: LiveApp,
    folder: Path,
    burki: Simulator,
    browser: httpx.AsyncClient,
    theirs: str,
    acmes: str,
    default: str,
) -> None:
    status, out, err = await cli(folder, burki, "wallboard", "--org", "globex")
    assert status == 0, err
    assert out.startswith("/o/globex/embed/wallboard?token=")
    code, board = await text_of(browser, live.url + out.strip())
    assert code == 200 and theirs in board
    assert acmes not in board and default not in board
    listing = (await cli(folder, burki, "list"))[1].splitlines()
    assert listing[0].split()[:3] == ["ID", "ORG", "OPENS"]
    rows = [line.split() for line in listing[1:]]
    assert sorted(row[1:3] for row in rows) == [
        ["globex", f"globex/call:{theirs}"],
        ["globex", "globex/wallboard"],
    ]
    board_id = next(row[0] for row in rows if row[2] == "globex/wallboard")
    status, out, _ = await cli(folder, burki, "revoke", board_id)
    assert status == 0 and out == f"revoked embed link {board_id} of globex (globex/wallboard)\n"
    entries = await live.state.access.audit.entries(None)
    made = [e for e in entries if e.via == "cli" and e.what.startswith("embed link")]
    assert len(made) == 3 and {e.org for e in made} == {"globex"}


async def test_an_unknown_organisation_or_a_foreign_id_gets_no_link_and_asks_no_burki(
    burki: Simulator, tmp_path: Path
) -> None:
    await book_put(tmp_path, (Org("globex", "Globex Sales", burki.base_url), GLOBEX_KEY))
    default = burki.add_call()
    async with serving(burki, tmp_path) as live:
        for args, said in [
            (("call", default, "--org", "nosuch"), "there is no organisation 'nosuch'"),
            (("wallboard", "--org", "nosuch"), "there is no organisation 'nosuch'"),
            (("call", default, "--org", "Not A Slug"), "an organisation is"),
        ]:
            status, out, err = await cli(tmp_path, burki, *args)
            assert status == 2 and out == "", (args, out)
            assert len(err.strip().splitlines()) == 1 and said in err, (args, err)
        assert burki.requests.naming(default) == []  # nothing was asked of any Burki
        # The default organisation's call, asked of globex's Burki with globex's key: not there.
        status, out, err = await cli(tmp_path, burki, "call", default, "--org", "globex")
        assert status == 2 and f"Burki has no call {default}" in err and out == ""
        assert {e.org for e in burki.requests.naming(default)} == {"globex"}
        assert await live.state.access.embeds.list() == []
        assert GLOBEX_KEY not in err and MASTER not in err
