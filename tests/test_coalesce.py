import asyncio

from webapp.calls.change import Change
from webapp.relay.coalesce import Coalescer


def progress(n: int) -> Change:
    return Change("progress", {"n": n})


async def test_a_burst_of_progress_collapses_to_the_newest_within_the_interval() -> None:
    emitted: list[Change] = []
    done = asyncio.Event()
    coalescer = Coalescer(0.05, lambda c: (emitted.append(c), done.set()))
    for n in range(20):
        coalescer.offer(progress(n))
    assert [c.data["n"] for c in emitted] == [0]  # the first goes at once
    done.clear()
    await asyncio.wait_for(done.wait(), 1)  # the timer flushes the newest
    assert [c.data["n"] for c in emitted] == [0, 19]
    assert coalescer.dropped == 18


async def test_other_changes_flush_pending_progress_first_so_order_holds() -> None:
    emitted: list[Change] = []
    coalescer = Coalescer(10.0, emitted.append)
    coalescer.offer(progress(1))
    coalescer.offer(progress(2))
    coalescer.offer(Change("contact", {}))
    coalescer.offer(Change("campaign_completed", {}))
    assert [c.type for c in emitted] == ["progress", "progress", "contact", "campaign_completed"]
    assert emitted[1].data["n"] == 2


async def test_close_cancels_the_timer_and_drops_nothing_already_sent() -> None:
    emitted: list[Change] = []
    coalescer = Coalescer(0.01, emitted.append)
    coalescer.offer(progress(1))
    coalescer.offer(progress(2))
    coalescer.close()
    await asyncio.sleep(0.05)  # past the interval: the cancelled timer must not fire
    assert [c.data["n"] for c in emitted] == [1]
