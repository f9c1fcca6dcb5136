"""An open stream's access: re-checked on a timer, ended through its own receive, and no task
of its own per viewer (what an idle viewer holds is the product's cost at scale)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest
from starlette.requests import HTTPConnection

from tests.live import Viewer, is_event, running_app
from tests.test_api import named
from webapp.access.auth import same_request
from webapp.access.streamguard import DISCONNECT, Recheck, RevocableReceive, on_renewal
from webapp.access.users import Role
from webapp.simulator import Simulator

RECHECK = {"dashboard_stream_recheck_minutes": 0.01}  # 0.6 s


class Inbox:
    """A server's ``receive``: waits until a message is put."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, object]] = asyncio.Queue()

    async def __call__(self) -> dict[str, object]:
        return await self.queue.get()


async def test_revoking_answers_a_waiting_receive_with_a_disconnect_in_the_callers_task() -> None:
    inbox = Inbox()
    guarded = RevocableReceive(inbox)  # type: ignore[arg-type]
    waiting = asyncio.create_task(guarded())
    await asyncio.sleep(0)  # the watcher is parked in receive
    guarded.revoke()
    assert await waiting == DISCONNECT
    assert not waiting.cancelled()
    assert await guarded() == DISCONNECT  # and every later receive


async def test_receive_passes_messages_through_until_revoked() -> None:
    inbox = Inbox()
    guarded = RevocableReceive(inbox)  # type: ignore[arg-type]
    inbox.queue.put_nowait({"type": "http.request", "body": b""})
    assert await guarded() == {"type": "http.request", "body": b""}
    assert not guarded.revoked


async def test_a_cancel_from_elsewhere_is_not_swallowed_by_a_revocation() -> None:
    guarded = RevocableReceive(Inbox())  # type: ignore[arg-type]
    waiting = asyncio.create_task(guarded())
    await asyncio.sleep(0)
    waiting.cancel()  # shutdown cancels the watcher...
    guarded.revoke()  # ...as the revocation lands
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_a_recheck_that_holds_rearms_and_one_that_fails_revokes_once() -> None:
    answers = iter([True, True, False])
    asked: list[bool] = []
    revoked = asyncio.Event()

    async def holds() -> bool:
        asked.append(next(answers))
        return asked[-1]

    Recheck(0.01, holds, revoked.set)
    await asyncio.wait_for(revoked.wait(), 5)
    assert asked == [True, True, False]


async def test_a_recheck_that_raises_revokes() -> None:
    revoked = asyncio.Event()

    async def broken() -> bool:
        raise OSError("the database answered nonsense")

    Recheck(0.01, broken, revoked.set)
    await asyncio.wait_for(revoked.wait(), 5)


async def test_a_stopped_recheck_never_revokes() -> None:
    checked = asyncio.Event()
    revoked: list[bool] = []

    async def holds() -> bool:
        checked.set()
        return False

    recheck = Recheck(0.01, holds, lambda: revoked.append(True))
    recheck.stop()  # the stream ended before its first check
    later = Recheck(0.01, holds, lambda: None)  # a witness that the timer would have fired
    await asyncio.wait_for(checked.wait(), 5)
    later.stop()
    await asyncio.sleep(0.05)  # a check of the stopped one would have landed by now
    assert revoked == []


async def test_a_revoked_api_token_ends_its_open_stream_within_the_recheck(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    async with running_app(sim, **RECHECK) as live, httpx.AsyncClient(timeout=30) as client:
        token = await live.token(Role.SUPERVISOR)
        client.headers["Authorization"] = f"Bearer {token}"
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("status", state="live"))
        await live.state.access.tokens.revoke(
            next(t.name for t in await live.state.access.tokens.list())
        )
        assert viewer._task is not None
        await asyncio.wait_for(viewer._task, 10)  # ended by the server
        assert live.state.access.caps.open == {}


async def test_an_open_stream_holds_no_task_of_the_access_guard(sim: Simulator) -> None:
    """Per idle viewer: the server's request task, nothing else (no re-check task, no helper
    tasks around receive, no disconnect watcher: the connection's loss and a revocation
    stop the response by callback)."""
    sid = sim.add_call()
    async with running_app(sim) as live, live.client(Role.SUPERVISOR) as client:
        first = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await first.wait_for(is_event("status", state="live"))  # the stream and its tasks run
        await first.wait_for(named(sid))  # and its look-up of the assistant's name is over
        before = len(asyncio.all_tasks())
        viewers = [Viewer(live.url, f"/api/calls/{sid}/events").start(client) for _ in range(5)]
        for viewer in viewers:
            await viewer.wait_for(lambda event: event.event == "snapshot")
        readers = 5  # each test viewer's own reading task
        assert len(asyncio.all_tasks()) - before - readers == 5
        for viewer in [first, *viewers]:
            await viewer.stop()


async def test_the_streams_opened_together_share_one_recheck_timer() -> None:
    """A thousand streams opened at once wait for their checks in one bucket of the loop's
    wheel (two, if a bucket's edge falls among them), not in a loop timer each."""
    loop = asyncio.get_running_loop()
    timers = len(getattr(loop, "_scheduled"))  # noqa: B009

    async def holds() -> bool:
        return True

    checks = [Recheck(60.0, holds, lambda: None) for _ in range(1000)]
    assert len(getattr(loop, "_scheduled")) - timers <= 2  # noqa: B009
    for check in checks:
        check.stop()


async def test_checks_in_one_bucket_each_run_and_a_stopped_one_does_not() -> None:
    asked: list[int] = []
    all_in = asyncio.Event()

    def holds_of(n: int) -> Callable[[], Coroutine[Any, Any, bool]]:
        async def holds() -> bool:
            asked.append(n)
            if len(asked) == 99:
                all_in.set()
            return False

        return holds

    revoked: list[int] = []
    checks = [Recheck(0.2, holds_of(n), lambda n=n: revoked.append(n)) for n in range(100)]
    checks[0].stop()
    await asyncio.wait_for(all_in.wait(), 5)
    await asyncio.sleep(0)  # the checks' done callbacks
    assert sorted(asked) == sorted(revoked) == list(range(1, 100))


async def test_checks_due_together_that_ask_the_same_share_one_answer() -> None:
    """One store read for the streams of one request alike, one for each other request; a
    stream that stopped meanwhile neither cancels the shared read nor is revoked."""
    reads: list[str] = []

    def holds_of(who: str) -> Callable[[], Coroutine[Any, Any, bool]]:
        async def holds() -> bool:
            reads.append(who)
            await asyncio.sleep(0.01)  # a store read takes a while
            return who != "revoked"

        return holds

    ended: list[str] = []
    checks = [
        Recheck(0.2, holds_of(who), lambda who=who: ended.append(who), share=lambda who=who: who)
        for who in ["wallboard"] * 50 + ["revoked"] * 20 + ["alone"]
    ]
    quitter = Recheck(
        0.2, holds_of("revoked"), lambda: ended.append("quitter"), share=lambda: "revoked"
    )
    await until_true(lambda: "revoked" in reads, 5)
    quitter.stop()  # it awaits the shared read, and stops before the answer comes
    await until_true(lambda: len(ended) >= 20, 5)
    await asyncio.sleep(0.05)  # any other answer would be in by now
    assert sorted(set(reads)) == ["alone", "revoked", "wallboard"]
    assert len(reads) <= 2 * 3  # a bucket's edge may fall among them: at most two each
    assert ended == ["revoked"] * 20
    for check in checks:
        check.stop()


async def until_true(condition: Callable[[], bool], timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_a_stream_that_listens_to_its_rechecks_shares_no_check() -> None:
    """Two requests alike share their re-check, unless the stream listens to its re-checks
    (a board of every organisation narrows itself on each): each listener must be told."""

    def request() -> HTTPConnection:
        headers = [(b"authorization", b"Bearer t"), (b"host", b"x")]
        scope = {
            "type": "http",
            "path": "/overview/events",
            "query_string": b"",
            "headers": headers,
            "client": ("10.0.0.1", 50000),
            "state": {},
        }
        return HTTPConnection(scope)

    one, other = request(), request()
    assert same_request(one) == same_request(other) is not None
    on_renewal(one.scope, lambda principal: True)
    assert same_request(one) is None
