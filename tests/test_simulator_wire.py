"""Frame builders: counters per campaign dialect, and Burki's three timestamp styles."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from tests.clocks import ManualClock
from webapp.simulator import dialects, wire
from webapp.simulator.model import Store

START = datetime(2025, 8, 1, 12, 0, tzinfo=UTC)


def test_campaign_counters_mean_what_each_dialect_says() -> None:
    store = Store(random.Random(1), ManualClock(START))
    campaign = store.add_campaign("X", "A", 4, None)
    for outcome in ("success", "success", "failed"):
        store.advance_campaign(campaign.id, outcome)  # type: ignore[arg-type]
    now = START
    a = dialects.progress(campaign, now, False)["data"]
    campaign.dialect = "B"
    b = dialects.progress(campaign, now, False)
    c = dialects.c_progress(campaign.counts())
    assert (a["completed_contacts"], a["successful_contacts"], a["pending_contacts"]) == (3, 2, 1)
    assert (b["completed_contacts"], b["failed_contacts"], b["in_progress_contacts"]) == (2, 1, 1)
    assert b["pending_contacts"] == 0
    assert (c["completed"], c["failed"], c["processing"], c["success_rate"]) == (2, 1, 1, 66.67)
    assert a["success_rate"] == 66.67
    assert b["completion_percentage"] == 75.0


def test_timestamps_are_naive_or_zulu_or_epoch_as_burki_writes_them() -> None:
    moment = datetime(2025, 8, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert wire.naive(moment) == "2025-08-01T12:00:00.123456"
    assert wire.zulu(moment) == "2025-08-01T12:00:00.123456Z"
    assert wire.stamp(moment, oss=True) == "2025-08-01T12:00:00.123456"
    assert wire.epoch(moment) == 1754049600.123
