"""The application's wiring: one typed state holds the running parts, made when the app starts."""

from __future__ import annotations

from tests.live import running_app
from webapp.pages.state import AppState, state_of
from webapp.simulator import Simulator


async def test_the_running_parts_are_one_typed_state_and_nothing_else_is_on_app_state(
    sim: Simulator,
) -> None:
    async with running_app(sim) as live:
        state = state_of(live.app)
        assert isinstance(state, AppState)
        assert live.app.state._state == {"running": state}
        assert state.hub.sources is state.tenants  # the hub reads each org's sources
        first = state.tenants.first
        assert first.sources.rest is first.rest and first.directory.rest is first.rest
    assert state.hub.closed  # the lifespan closed what it started
