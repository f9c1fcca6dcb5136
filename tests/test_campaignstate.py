"""A campaign's state: the same in every dialect, bounded, and unmoved by replays."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from webapp.calls.campaignstate import CampaignState
from webapp.calls.change import Change
from webapp.relay.frames import render
from webapp.wire.events import (
    CampaignCompleted,
    Connected,
    Contact,
    ContactUpdate,
    Counters,
    Event,
    Progress,
)

T0 = datetime(2025, 8, 1, 10, 0, 0, tzinfo=UTC)


def ticking() -> Iterator[datetime]:
    n = 0
    while True:
        yield T0 + timedelta(seconds=n)
        n += 1


def campaign(**kwargs: Any) -> CampaignState:
    clock = ticking()
    return CampaignState(42, clock=lambda: next(clock), **kwargs)


def counters(successful: int, failed: int, in_progress: int = 1, total: int = 10) -> Counters:
    done = successful + failed
    return Counters(
        total=total,
        completed=done,
        successful=successful,
        failed=failed,
        in_progress=in_progress,
        pending=total - done - in_progress,
        success_rate=successful / done * 100 if done else None,
        percent_done=done / total * 100,
    )


def feed(state: CampaignState, events: Iterable[Event]) -> list[Change]:
    return [change for event in events for change in state.apply(event)]


def types(changes: list[Change]) -> list[str]:
    return [change.type for change in changes]


# The same campaign as each dialect tells it, normalised. A: progress, then a
# contact_completed per contact. B: flat progress naming the contact that changed.
# C: progress with a status and recent activity (newest first), no campaign_completed.


def alice(outcome: str = "success") -> Contact:
    return Contact(outcome, phone="+15550101", contact_id="1", raw_status=outcome, at=T0)  # type: ignore[arg-type]


def bob(outcome: str = "failed") -> Contact:
    later = T0 + timedelta(seconds=5)
    return Contact(outcome, phone="+15550102", contact_id="2", raw_status=outcome, at=later)  # type: ignore[arg-type]


def dialect_a() -> list[Event]:
    return [
        Progress(counters(1, 0), 42),
        ContactUpdate(alice(), 42),
        Progress(counters(1, 1), 42),
        ContactUpdate(bob(), 42),
    ]


def dialect_b() -> list[Event]:
    return [
        Progress(counters(1, 0), 42, contacts=(alice(),)),
        Progress(counters(1, 1), 42, contacts=(bob(),)),
    ]


def dialect_c() -> list[Event]:
    return [
        Progress(counters(1, 0), 42, "running", contacts=(alice(),)),
        Progress(counters(1, 1), 42, "running", contacts=(bob(), alice())),
    ]


DIALECTS = {"A": dialect_a, "B": dialect_b, "C": dialect_c}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_same_numbers_give_the_same_state_in_every_dialect(dialect: str) -> None:
    state = campaign()
    changes = feed(state, DIALECTS[dialect]())
    snapshot = state.snapshot() | {"status": None}  # only C names the status
    reference = campaign()
    feed(reference, dialect_a())
    assert snapshot == reference.snapshot() | {"status": None}
    assert sorted(types(changes)) == ["contact", "contact", "progress", "progress"]
    assert [c["phone"] for c in state.snapshot()["contacts"]] == ["+15550102", "+15550101"]
    assert state.counters.success_rate == 50.0


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_replay_on_reconnect_changes_nothing(dialect: str) -> None:
    state = campaign()
    feed(state, DIALECTS[dialect]())
    before = state.snapshot()
    current = [event for event in DIALECTS[dialect]() if isinstance(event, Progress)][-1]
    assert feed(state, [Connected(), current, current]) == []
    assert state.snapshot() == before


def test_a_progress_change_carries_counters_status_and_a_chart_sample() -> None:
    state = campaign()
    [change] = state.apply(Progress(counters(3, 1), 42, "running"))
    assert change.type == "progress"
    assert change.data["status"] == "running"
    assert change.data["counters"]["successful"] == 3
    assert change.data["sample"] == {
        "t": "2025-08-01T10:00:00Z",
        "completed": 4,
        "successful": 3,
        "failed": 1,
        "percent_done": 40.0,
        "success_rate": 75.0,
    }
    [paused] = state.apply(Progress(counters(3, 1), 42, "paused"))
    assert paused.data["sample"] is None  # same counters: no new point on the chart
    assert len(state.history) == 1
    render("e-1", change.type, change.data)


def test_counters_are_taken_as_sent_even_when_they_go_down() -> None:
    state = campaign()
    feed(state, [Progress(counters(5, 1), 42), Progress(counters(4, 1), 42)])
    assert state.counters == counters(4, 1)


def test_history_keeps_only_the_last_samples() -> None:
    state = campaign(history_size=5)
    feed(state, [Progress(counters(n, 0, total=100), 42) for n in range(20)])
    assert [sample["successful"] for sample in state.history] == [15, 16, 17, 18, 19]


def test_recent_contacts_are_bounded_newest_first_and_dedupe_memory_is_bounded() -> None:
    state = campaign(contacts_size=3)
    people = [Contact("success", phone=f"+1555{n:04}", contact_id=str(n)) for n in range(50)]
    assert len(feed(state, (ContactUpdate(p) for p in people))) == 50
    assert [c["contact_id"] for c in state.snapshot()["contacts"]] == ["49", "48", "47"]
    assert len(state._seen) == 12  # 4 keys remembered per contact shown
    assert feed(state, (ContactUpdate(p) for p in people[-12:])) == []


def test_a_contact_whose_outcome_changes_moves_to_the_top_once() -> None:
    state = campaign()
    feed(state, [ContactUpdate(alice("in_progress")), ContactUpdate(bob())])
    assert state.apply(ContactUpdate(alice("in_progress"))) == []
    [change] = state.apply(ContactUpdate(alice("success")))
    assert change.data["contact"]["outcome"] == "success"
    assert [(c["phone"], c["outcome"]) for c in state.snapshot()["contacts"]] == [
        ("+15550101", "success"),
        ("+15550102", "failed"),
    ]


def test_contacts_without_an_id_are_keyed_by_call_sid_then_phone_status_and_time() -> None:
    state = campaign()
    by_sid = Contact("success", phone="+15550101", call_sid="CA1")
    by_phone = Contact("failed", phone="+15550102", raw_status="busy", at=T0)
    assert len(feed(state, [ContactUpdate(by_sid), ContactUpdate(by_phone)])) == 2
    assert feed(state, [ContactUpdate(by_sid), ContactUpdate(by_phone)]) == []
    keys = [c["key"] for c in state.snapshot()["contacts"]]
    assert len(set(keys)) == 2 and all(k.isalnum() for k in keys)


# -- completion --------------------------------------------------------------------------


def test_campaign_completed_ends_it_with_a_summary_dialects_a_and_b() -> None:
    state = campaign()
    feed(state, dialect_b())
    final = counters(6, 4, in_progress=0)
    changes = state.apply(CampaignCompleted(final, 42, total_duration=620.0, total_cost=3.1))
    assert types(changes) == ["progress", "campaign_completed"]
    assert changes[1].data == {
        "summary": {
            "status": "completed",
            "counters": changes[0].data["counters"],
            "total_duration": 620.0,
            "total_cost": 3.1,
        }
    }
    assert state.ended and state.status == "completed"
    assert state.apply(CampaignCompleted(final, 42, total_duration=620.0, total_cost=3.1)) == []


@pytest.mark.parametrize("status", ["completed", "cancelled", "failed"])
def test_a_final_status_in_progress_ends_it_dialect_c(status: str) -> None:
    state = campaign()
    feed(state, dialect_c())
    changes = state.apply(Progress(counters(6, 4, in_progress=0), 42, status))
    assert types(changes) == ["progress", "campaign_completed"]
    summary = changes[1].data["summary"]
    assert (summary["status"], summary["counters"]["successful"]) == (status, 6)
    assert summary["total_cost"] is None
    assert state.ended
    assert state.apply(Progress(counters(6, 4, in_progress=0), 42, status)) == []


def test_after_the_end_a_stale_status_is_ignored_and_totals_only_add_to_the_summary() -> None:
    state = campaign()
    state.apply(Progress(counters(6, 4, in_progress=0), 42, "completed"))
    assert state.apply(Progress(counters(6, 4, in_progress=0), 42, "running")) == []
    assert state.status == "completed"
    [change] = state.apply(CampaignCompleted(counters(6, 4, in_progress=0), total_cost=2.0))
    assert change.data["summary"]["total_cost"] == 2.0


def test_snapshot_holds_the_whole_state_and_renders() -> None:
    state = campaign()
    state.name = "Spring reminders"
    feed(state, [*dialect_c(), Progress(counters(6, 4, in_progress=0), 42, "completed")])
    snapshot = state.snapshot()
    assert set(snapshot) == {
        "name",
        "status",
        "counters",
        "history",
        "contacts",
        "summary",
        "ended",
    }
    assert snapshot["name"] == "Spring reminders"
    assert len(snapshot["history"]) == 3
    render("e-1", "snapshot", snapshot)


def test_a_new_name_is_a_change_and_the_same_name_or_none_is_not() -> None:
    state = campaign()
    assert state.rename(None) == []
    assert state.rename("Spring reminders") == [
        Change("campaign_name", {"name": "Spring reminders"})
    ]
    assert state.rename("Spring reminders") == []
    assert state.snapshot()["name"] == "Spring reminders"
