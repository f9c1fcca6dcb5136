"""The monitor's placement rules on a real hub against the simulator, the cluster's answers
given by hand: its share, the lease race, and a gentle give-back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tests.hubs import hub_on
from webapp.relay.subscriber import Subscriber
from webapp.simulator import Simulator
from webapp.watch.monitor import Monitor, MonitorConfig
from webapp.watch.placement import Survey
from webapp.wire.rest import CallSummary, CampaignSummary
from webapp.wire.streamkey import StreamKey


@dataclass
class Listed:
    """The directory as the monitor reads it: a fixed list of calls."""

    calls: list[CallSummary]
    campaigns: list[CampaignSummary] = field(default_factory=list)
    loaded: bool = True

    async def refresh(self) -> bool:
        return False

    def watch(self, sub: Subscriber) -> None:
        return None

    def unwatch(self, sub: Subscriber) -> None:
        return None


@dataclass
class Told:
    """A cluster whose answers the test sets: how many nodes, who holds what."""

    nodes: int = 1
    holders: dict[StreamKey, str] = field(default_factory=dict)
    node: str = "me"
    recheck: float = 0.05

    async def survey(self, keys: Sequence[StreamKey], holding: int) -> Survey:
        return Survey(dict(self.holders), frozenset(), self.nodes, {self.node: holding})

    async def refuse(self, key: StreamKey) -> None:
        return None


def listed(sim: Simulator, count: int) -> tuple[Listed, list[StreamKey]]:
    sids = [sim.add_call() for _ in range(count)]
    return Listed([CallSummary(call_sid=s, status="in-progress") for s in sids]), [
        StreamKey.call(s) for s in sids
    ]


async def opened(monitor: Monitor, count: int) -> None:
    while len(monitor.held) < count:
        await monitor.look()
        await monitor.opener_idle()


async def test_past_its_share_a_node_gives_back_only_streams_no_viewer_watches(
    sim: Simulator,
) -> None:
    listing, keys = listed(sim, 6)
    cluster = Told()
    async with hub_on(sim) as hub:
        monitor = Monitor(
            hub, listing, MonitorConfig(enabled=True, max_streams=1000, open_rate=1000), cluster
        )
        monitor.start()
        try:
            await opened(monitor, 6)
            with hub.watch(keys[:4], {}):  # four of them watched here
                cluster.nodes = 3  # two nodes joined: a share of 2, plus the slack
                for _ in range(3):
                    await monitor.look()
                assert set(monitor.held) == set(keys[:4])  # the two unwatched went
                assert all(k in hub.streams for k in keys[:4])
                for key in keys[4:]:
                    await sim.wait_for_connections(str(key), 0)
        finally:
            await monitor.close()


async def test_a_stream_another_node_holds_is_let_go_and_none_past_the_share_is_taken(
    sim: Simulator,
) -> None:
    listing, keys = listed(sim, 8)
    cluster = Told(nodes=2, holders={keys[0]: "other", keys[1]: "other"})
    async with hub_on(sim) as hub:
        monitor = Monitor(
            hub, listing, MonitorConfig(enabled=True, max_streams=1000, open_rate=1000), cluster
        )
        monitor.start()
        try:
            await opened(monitor, 5)  # a share of 4, plus the slack
            await monitor.look()
            assert len(monitor.held) == 5
            assert keys[0] not in monitor.held and keys[1] not in monitor.held
            taken = next(iter(monitor.held))
            cluster.holders[taken] = "other"  # it lost the race for that lease
            await monitor.look()
            assert taken not in monitor.held
            await sim.wait_for_connections(str(taken), 0)  # let go at once, not after a grace
        finally:
            await monitor.close()
