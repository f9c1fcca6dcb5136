"""The sign-in throttle under real concurrent sign-ins: its limits hold however they race."""

from __future__ import annotations

import asyncio
import re
import threading
from collections import Counter

import httpx
import pytest

from tests.live import LiveApp, running_app
from webapp.access.hashwork import HashWork, HashWorkBusy
from webapp.access.users import Role
from webapp.simulator import Simulator

PASSWORD = "correct horse battery staple"


async def csrf_of(live: LiveApp, client: httpx.AsyncClient) -> str:
    form = await client.get(f"{live.url}/signin")
    found = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert found
    return found[1]


async def burst(
    live: LiveApp, client: httpx.AsyncClient, attempts: list[tuple[str, str]]
) -> Counter[int]:
    """Send every (name, password) sign-in at once; count the answers by status."""
    csrf = await csrf_of(live, client)

    async def one(name: str, password: str) -> int:
        data = {"name": name, "password": password, "csrf": csrf, "next": "/"}
        return (await client.post(f"{live.url}/signin", data=data)).status_code

    return Counter(await asyncio.gather(*(one(n, p) for n, p in attempts)))


async def test_forty_racing_guesses_for_one_name_get_five_password_checks(
    sim: Simulator,
) -> None:
    roomy = {"dashboard_signin_queue": 100}  # the throttle, not the queue, must hold them
    async with running_app(sim, **roomy) as live, live.client(role=None, timeout=60) as client:
        await live.state.access.users.add("ada", PASSWORD, Role.SUPERVISOR)
        guesses = [("ada", f"wrong guess number {n}") for n in range(39)] + [("ada", PASSWORD)]
        answers = await burst(live, client, guesses)
        checked = answers[401] + answers[303]  # the only answers of a checked password
        assert checked <= 5, answers
        assert answers[429] >= 35, answers
        assert set(answers) <= {401, 303, 429}, answers


async def test_two_hundred_racing_sign_ins_from_one_address_get_twenty_checks(
    sim: Simulator,
) -> None:
    roomy = {"dashboard_signin_queue": 300}
    async with running_app(sim, **roomy) as live, live.client(role=None, timeout=120) as client:
        answers = await burst(live, client, [(f"user{n}", "not a password") for n in range(200)])
        assert answers == Counter({401: 20, 429: 180})
        entries = await live.state.access.audit.entries(None)
        assert sum(e.what == "sign-in failed" for e in entries) == 20
        assert any(e.what == "sign-in throttled" and e.via == "none" for e in entries)


async def test_a_supervisor_page_loads_during_a_sign_in_flood(sim: Simulator) -> None:
    sid = sim.add_call()
    async with (
        running_app(sim) as live,
        live.client(role=None, timeout=120) as attacker,
        live.client(role=Role.SUPERVISOR, timeout=60) as supervisor,
    ):
        flood = asyncio.ensure_future(
            burst(live, attacker, [(f"user{n}", "not a password") for n in range(150)])
        )
        page = await supervisor.get(f"{live.url}/calls/{sid}")
        answers = await flood
        assert page.status_code == 200
        assert answers[401] <= 20 and set(answers) <= {401, 429, 503}, answers
        assert sum(answers.values()) == 150


async def test_password_checks_beyond_the_workers_and_queue_are_refused_at_once() -> None:
    work = HashWork(workers=1, queue=1)
    release = threading.Event()
    try:
        first = work.submit(release.wait, 10)
        second = work.submit(release.wait, 10)
        assert not work.has_room
        with pytest.raises(HashWorkBusy):
            work.submit(release.wait, 10)
        release.set()
        assert await first and await second
        assert work.has_room and work.admitted == 0
    finally:
        release.set()
        work.close()
