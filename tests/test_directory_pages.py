"""The directory reads every page of Burki's lists: a centre with more ongoing calls than
one page holds is listed (and so monitored) whole, over real sockets to the simulator."""

from __future__ import annotations

from tests.conftest import SIM_KEY
from webapp.simulator import Simulator
from webapp.watch.directory import PAGE, Directory
from webapp.wire.rest import BurkiRest


async def test_more_ongoing_calls_than_one_page_are_all_listed_once(sim: Simulator) -> None:
    sids = {sim.add_call() for _ in range(2 * PAGE + 37)}
    async with BurkiRest(sim.base_url, SIM_KEY) as rest:
        directory = Directory(rest, interval=60.0, grace=1.0)
        await directory.refresh()
    listed = [call.call_sid for call in directory.calls]
    assert directory.error is None
    assert len(listed) == len(set(listed))  # a row seen on two pages is kept once
    assert set(listed) == sids
