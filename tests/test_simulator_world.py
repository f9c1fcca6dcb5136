"""Autoplay's scripted world: deterministic, talkative, and never running dry."""

from __future__ import annotations

from webapp.simulator.world import (
    Action,
    AdvanceCampaign,
    EndCall,
    Say,
    StartCall,
    StartCampaign,
    World,
)

ANGRY = ("ridiculous", "cancel my account", "lawyer", "speak to a manager")


def play(world: World, until: float, step: float = 0.5) -> list[Action]:
    actions: list[Action] = []
    now = 0.0
    while now < until:
        actions += world.due(now)
        now += step
    return actions + world.due(until)


def test_the_same_seed_plays_the_same_world_however_the_clock_ticks() -> None:
    assert play(World(3), 120, step=0.1) == play(World(3), 120, step=7.0)
    assert play(World(3), 60) != play(World(4), 60)


def test_about_four_calls_talk_at_once_and_new_ones_start_as_others_end() -> None:
    actions = play(World(7), 600)
    started = [a.sid for a in actions if isinstance(a, StartCall)]
    ended = [a for a in actions if isinstance(a, EndCall)]
    assert len(started) > 20
    assert {e.status for e in ended} == {"completed", "failed"}
    live, most = set(), 0
    for action in actions:
        if isinstance(action, StartCall):
            live.add(action.sid)
        elif isinstance(action, EndCall):
            live.discard(action.sid)
        most = max(most, len(live))
    assert most == 4


def test_a_user_turn_is_growing_interims_then_the_final() -> None:
    says = [a for a in play(World(7), 120) if isinstance(a, Say)]
    for n, say in enumerate(says):
        if not say.is_final:
            final = next(s for s in says[n:] if s.is_final and s.sid == say.sid)
            assert say.speaker == "user"
            assert final.speaker == "user"
            assert final.content.startswith(say.content)
    assert any(not s.is_final for s in says)
    assert all(s.confidence is None for s in says if s.speaker == "assistant")


def test_some_callers_are_angry() -> None:
    text = " ".join(a.content for a in play(World(7), 900) if isinstance(a, Say)).lower()
    assert all(phrase in text for phrase in ANGRY)


def test_campaigns_run_in_their_dialects_to_the_end_and_are_replaced() -> None:
    actions = play(World(7), 300)
    starts = [a for a in actions if isinstance(a, StartCampaign)]
    assert [s.dialect for s in starts[:3]] == ["A", "B", "C"]
    assert len(starts) > 3
    for start in starts[:3]:
        advances = [a for a in actions if isinstance(a, AdvanceCampaign) and a.slot == start.slot]
        assert len(advances) >= start.contacts
        assert {a.outcome for a in advances} == {"success", "failed"}
        replacement = next(s for s in starts[3:] if s.slot == start.slot)
        assert replacement.dialect == start.dialect
    assert {
        s.dialect for s in play(World(7, dialects=("C",) * 3), 10) if isinstance(s, StartCampaign)
    } == {"C"}
