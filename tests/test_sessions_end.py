"""Sessions end: sign-out, a new password, a new role and removal end every session of the
user, on pages, exports and the next stream request; open streams end within the re-check;
a demo instance's sessions open nothing on a live one."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from tests.live import SESSION_SECRET, LiveApp, Viewer, is_event, running_app
from webapp.access.users import Role, UserStore
from webapp.access.wiring import SESSION_COOKIE
from webapp.simulator import Simulator

PASSWORD = "correct horse battery staple"
RECHECK = {"dashboard_stream_recheck_minutes": 0.01}  # 0.6 s


@asynccontextmanager
async def signed_in(live: LiveApp, name: str = "ada") -> AsyncIterator[httpx.AsyncClient]:
    """A client signed in with the password, as a browser would."""
    async with httpx.AsyncClient(timeout=30) as client:
        form = await client.get(f"{live.url}/signin")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf
        data = {"name": name, "password": PASSWORD, "csrf": csrf[1], "next": "/"}
        answer = await client.post(f"{live.url}/signin", data=data)
        assert answer.status_code == 303
        yield client


def copy_of(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Another client holding the same cookie (a stolen or second-browser copy)."""
    cookie = client.cookies[SESSION_COOKIE]
    return httpx.AsyncClient(cookies={SESSION_COOKIE: cookie}, timeout=30)


async def statuses(live: LiveApp, client: httpx.AsyncClient, sid: str) -> list[int]:
    """Page, export and stream: what the cookie still opens."""
    found = []
    for path in (f"/calls/{sid}", f"/calls/{sid}/transcript.txt", f"/api/calls/{sid}/events"):
        async with client.stream("GET", live.url + path) as response:
            found.append(response.status_code)
    return found


async def sign_out(live: LiveApp, client: httpx.AsyncClient) -> None:
    page = await client.get(f"{live.url}/")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    assert (await client.post(f"{live.url}/signout", data={"csrf": csrf[1]})).status_code == 303


async def change_password(users: UserStore) -> None:
    await users.set_password("ada", "another long password")


async def change_role(users: UserStore) -> None:
    await users.set_role("ada", Role.MANAGER)


async def remove_and_add_again(users: UserStore) -> None:
    await users.remove("ada")
    await users.add("ada", PASSWORD, Role.ADMIN)


@pytest.mark.parametrize("change", [change_password, change_role, remove_and_add_again])
async def test_a_change_to_the_user_ends_every_session(
    sim: Simulator, change: Callable[[UserStore], Awaitable[None]]
) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live:
        await live.state.access.users.add("ada", PASSWORD, Role.SUPERVISOR)
        async with signed_in(live) as client:
            assert await statuses(live, client, sid) == [200, 200, 200]
            await change(live.state.access.users)
            assert await statuses(live, client, sid) == [303, 303, 401]


async def test_sign_out_ends_every_copy_of_the_session(sim: Simulator) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live:
        await live.state.access.users.add("ada", PASSWORD, Role.SUPERVISOR)
        async with signed_in(live) as client, copy_of(client) as copy:
            async with signed_in(live) as other_browser:
                await sign_out(live, client)
                assert await statuses(live, copy, sid) == [303, 303, 401]
                assert await statuses(live, other_browser, sid) == [303, 303, 401]
            async with signed_in(live) as again:  # signing in again works
                assert await statuses(live, again, sid) == [200, 200, 200]


async def test_an_open_stream_ends_within_the_recheck_after_sign_out(sim: Simulator) -> None:
    sid = sim.add_call()
    async with running_app(sim, **RECHECK) as live:
        await live.state.access.users.add("ada", PASSWORD, Role.SUPERVISOR)
        async with signed_in(live) as client, copy_of(client) as copy:
            viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(copy)
            await viewer.wait_for(is_event("status", state="live"))
            html = Viewer(live.url, f"/live/call/call/{sid}").start(copy)
            await html.wait_for(lambda event: True)
            await sign_out(live, client)
            for open_stream in (viewer, html):
                assert open_stream._task is not None
                await asyncio.wait_for(open_stream._task, 10)  # ended by the server
            assert live.state.access.caps.open == {}  # and their places given back


async def test_an_open_stream_ends_when_its_sign_in_link_session_signs_out(sim: Simulator) -> None:
    sid = sim.add_call()
    async with (
        running_app(sim, **RECHECK) as live,
        live.client(Role.SUPERVISOR) as client,
        copy_of(client) as copy,
    ):
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(copy)
        await viewer.wait_for(is_event("status", state="live"))
        await sign_out(live, client)
        assert viewer._task is not None
        await asyncio.wait_for(viewer._task, 10)
        assert await statuses(live, copy, sid) == [303, 303, 401]


async def test_a_demo_session_opens_nothing_on_a_live_instance_sharing_the_secret(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    async with running_app(sim, demo=True) as demo, demo.client(Role.ADMIN) as client:
        assert await statuses(demo, client, sid) == [200, 200, 200]
        cookie = client.cookies[SESSION_COOKIE]
    async with running_app(sim) as live:
        assert live.state.access.session_secret == SESSION_SECRET
        async with httpx.AsyncClient(cookies={SESSION_COOKIE: cookie}) as stolen:
            assert await statuses(live, stolen, sid) == [303, 303, 401]


def _waiting_tasks() -> list[asyncio.Task[object]]:
    """Tasks parked on an ``asyncio.Event``'s wait (what a stream's access guard starts)."""
    return [
        task
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__qualname__", "") == "Event.wait"
    ]


async def test_a_stream_that_ends_leaves_no_task_of_its_access_guard_behind(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, live.client(Role.SUPERVISOR) as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("snapshot"))
        sim.set_call_status(sid, "completed")  # the server ends the response, not the client
        assert viewer._task is not None
        await asyncio.wait_for(viewer._task, 10)
        requests = [t for t in asyncio.all_tasks() if "run_asgi" in repr(t.get_coro())]
        await asyncio.wait_for(asyncio.gather(*requests), 10)  # the server is done with it
        assert live.state.access.caps.open == {}
        assert _waiting_tasks() == []
