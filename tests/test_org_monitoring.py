"""Monitoring per organisation over real sockets: each organisation's monitor holds its own
listed streams, keyed by its organisation and opened with its own key, under its own cap;
one organisation's Burki hanging, refusing the key or down never holds up another's calls.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import pytest

from tests.live import LiveApp
from tests.orgs import GLOBEX, asked_with, two_org_app, two_org_sim
from tests.test_monitor_live import metric
from webapp.relay.subscriber import Subscriber
from webapp.simulator import Faults
from webapp.wire.streamkey import DEFAULT_ORG, StreamKey

MONITORED = {"monitor_enabled": True, "directory_poll_interval": 0.3}


async def until(done: Callable[[], bool], timeout: float = 10.0) -> None:
    """Await a condition of the dashboard's or the simulator's state that no event
    announces (a monitored stream's state, with no page open; the simulator's log)."""
    async with asyncio.timeout(timeout):
        while not done():  # noqa: ASYNC110 (no event announces it: see above)
            await asyncio.sleep(0.02)


def said(live: LiveApp, key: StreamKey, text: str) -> Callable[[], bool]:
    def check() -> bool:
        stream = live.hub.streams.get(key)
        segments = stream.state.snapshot().get("segments", []) if stream is not None else []
        return any(s.get("content") == text for s in segments)

    return check


def held(live: LiveApp, org: str) -> set[StreamKey]:
    monitor = live.state.tenants.get(org).monitor
    assert monitor is not None
    return set(monitor.held)


async def test_each_organisations_monitor_holds_its_own_calls_with_its_own_key() -> None:
    async with two_org_sim() as sim:
        globex = sim.org(GLOBEX)
        a_calls = {sim.add_call(), sim.add_call()}
        b_calls = {globex.add_call(), globex.add_call()}
        b_campaign = globex.add_campaign()
        async with two_org_app(sim, **MONITORED) as live:
            for sid in a_calls:
                await sim.wait_for_connections(f"call:{sid}", 1, timeout=10)
            for sid in b_calls:
                await globex.wait_for_connections(f"call:{sid}", 1, timeout=10)
            await globex.wait_for_connections(f"campaign:{b_campaign}", 1, timeout=10)
            assert held(live, DEFAULT_ORG) == {StreamKey.call(sid) for sid in a_calls}
            assert held(live, GLOBEX) == {
                *(StreamKey.call(sid, GLOBEX) for sid in b_calls),
                StreamKey.campaign(b_campaign, GLOBEX),
            }
            globex.add_segment(next(iter(b_calls)), "user", "Globex is listening")
            await until(
                said(live, StreamKey.call(next(iter(b_calls)), GLOBEX), "Globex is listening")
            )
    assert asked_with(sim, DEFAULT_ORG, *b_calls, str(b_campaign)) == []
    assert asked_with(sim, GLOBEX, *a_calls) == []
    assert all(sim.org(GLOBEX).connections_total(f"call:{sid}") == 1 for sid in b_calls)


async def test_the_monitoring_cap_is_each_organisations_own() -> None:
    async with two_org_sim() as sim:
        globex = sim.org(GLOBEX)
        for _ in range(3):
            sim.add_call()
        b_calls = [globex.add_call() for _ in range(2)]
        async with two_org_app(sim, **MONITORED, monitor_max_streams=2) as live:
            for sid in b_calls:  # globex's two fit its own cap, whatever the default's hold
                await globex.wait_for_connections(f"call:{sid}", 1, timeout=10)
            await until(lambda: len(held(live, DEFAULT_ORG)) == 2)
            default_monitor = live.state.tenants.get(DEFAULT_ORG).monitor
            assert default_monitor is not None
            await until(lambda: len(default_monitor.unmonitored) == 1)
            assert held(live, GLOBEX) == {StreamKey.call(sid, GLOBEX) for sid in b_calls}
            globex_monitor = live.state.tenants.get(GLOBEX).monitor
            assert globex_monitor is not None and globex_monitor.unmonitored == []
            async with live.client(timeout=10) as admin:
                scraped = (await admin.get(f"{live.url}/metrics")).text
    assert metric(scraped, "burki_live_monitor_unmonitored") == {
        (("org", DEFAULT_ORG),): 1.0,
        (("org", GLOBEX),): 0.0,
    }
    assert metric(scraped, "burki_live_monitor_cap") == {
        (("org", DEFAULT_ORG),): 2.0,
        (("org", GLOBEX),): 2.0,
    }


@pytest.mark.parametrize("trouble", ["hangs", "refuses the key", "is down"])
async def test_globex_burki_in_trouble_never_holds_up_the_default_organisations_calls(
    trouble: str,
) -> None:
    async with two_org_sim() as sim, two_org_sim() as elsewhere:
        globex = sim.org(GLOBEX)
        b_calls = [globex.add_call() for _ in range(4)]
        a_calls = [sim.add_call() for _ in range(2)]
        app_options: dict[str, object] = dict(MONITORED)
        if trouble == "hangs":  # lists its calls, then every stream's handshake hangs
            globex.faults = Faults(hang_on_connect=True)
        elif trouble == "refuses the key":
            app_options["globex_key"] = "globex-key-revoked"
        else:  # a Burki that was there and is gone: connections refused
            app_options["globex_url"] = elsewhere.base_url
            await elsewhere.stop()
        async with two_org_app(sim, **app_options) as live:  # type: ignore[arg-type]
            for sid in a_calls:
                await sim.wait_for_connections(f"call:{sid}", 1, timeout=10)
            if trouble == "hangs":
                await until(lambda: len(globex.session.streams.hung_peers()) >= len(b_calls))
            for n, sid in enumerate(a_calls):
                sim.add_segment(sid, "user", f"the default organisation speaks {'ab'[n]}")
            for n, sid in enumerate(a_calls):
                text = f"the default organisation speaks {'ab'[n]}"
                await until(said(live, StreamKey.call(sid), text))
            if trouble == "hangs":  # globex's handshakes still hang as the lines arrive
                assert globex.session.streams.hung_peers()
            globex_directory = live.state.tenants.get(GLOBEX).directory
            if trouble != "hangs":
                await until(lambda: globex_directory.error is not None)
            assert held(live, DEFAULT_ORG) == {StreamKey.call(sid) for sid in a_calls}
    assert asked_with(sim, DEFAULT_ORG, *b_calls) == []


async def test_one_organisations_directory_stops_polling_when_unwatched_while_anothers_polls() -> (
    None
):
    async with two_org_sim() as sim, two_org_app(sim, directory_poll_interval=0.1) as live:
        mine = live.state.tenants.get(DEFAULT_ORG).directory
        theirs = live.state.tenants.get(GLOBEX).directory
        watching_mine, watching_theirs = Subscriber(64), Subscriber(64)
        mine.watch(watching_mine)
        theirs.watch(watching_theirs)
        await until(lambda: len(asked_with(sim, DEFAULT_ORG, "calls")) >= 2)
        mine.unwatch(watching_mine)
        await until(lambda: mine._task is None)  # its grace period is over
        polled = len(asked_with(sim, DEFAULT_ORG, "calls"))
        before = len(asked_with(sim, GLOBEX, "calls"))
        await until(lambda: len(asked_with(sim, GLOBEX, "calls")) >= before + 3)
        assert len(asked_with(sim, DEFAULT_ORG, "calls")) == polled
        theirs.unwatch(watching_theirs)


def test_a_stream_key_is_built_with_its_monitors_organisation() -> None:
    from webapp.watch.monitor import _keys

    class Listed:
        calls = [type("C", (), {"call_sid": "CA1"})()]
        campaigns = [type("K", (), {"id": 7})()]
        loaded = True

    assert _keys(Listed(), GLOBEX) == [  # type: ignore[arg-type]
        StreamKey.call("CA1", GLOBEX),
        StreamKey.campaign(7, GLOBEX),
    ]


def monitoring_of(admin_page: str, org: str) -> str:
    """The /admin Monitoring panel's section of one organisation ('' if it has none)."""
    found = re.search(
        rf'<section class="monitoring" data-org="{org}".*?</section>', admin_page, re.S
    )
    return found[0] if found else ""


def node_counts(section: str) -> dict[str, int]:
    rows = re.findall(r"<tr><td><code>([^<]+)</code></td><td>(\d+)</td></tr>", section)
    return {node: int(count) for node, count in rows}


async def test_the_admin_page_shows_each_organisations_monitor_its_cap_left_out_and_refused() -> (
    None
):
    async with two_org_sim() as sim:
        globex = sim.org(GLOBEX)
        a_calls = [sim.add_call() for _ in range(4)]
        b_calls = [globex.add_call() for _ in range(2)]
        denied = globex.add_call()
        globex.faults = Faults(denied=frozenset({f"call:{denied}"}))
        async with two_org_app(sim, **MONITORED, monitor_max_streams=3) as live:
            default_monitor = live.state.tenants.get(DEFAULT_ORG).monitor
            globex_monitor = live.state.tenants.get(GLOBEX).monitor
            assert default_monitor is not None and globex_monitor is not None
            await until(lambda: len(default_monitor.unmonitored) == 1)
            await until(lambda: len(held(live, GLOBEX)) == 2 and globex_monitor.refusals == 1)
            async with live.client(timeout=10) as admin:
                page = (await admin.get(f"{live.url}/admin")).text
    ours, theirs = monitoring_of(page, DEFAULT_ORG), monitoring_of(page, GLOBEX)
    assert "Globex Sales" in theirs and "At most 3 per node." in theirs
    assert list(node_counts(ours).values()) == [3] and list(node_counts(theirs).values()) == [2]
    [left] = default_monitor.unmonitored
    assert "The cap is reached: 1 listed stream(s)" in ours and f'title="{left}"' in ours
    assert "cap is reached" not in theirs and "Burki refused" not in ours
    assert "Burki refused 1 of them" in theirs
    for sid in a_calls:
        assert sid not in theirs  # one organisation's calls are never named in another's
    for sid in [*b_calls, denied]:
        assert sid not in ours
