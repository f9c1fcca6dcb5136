"""The official ``burki`` SDK (0.1.2) reads the simulator as it would read Burki.

The SDK's campaign parser is dialect B and calls ``datetime.fromisoformat`` on every
frame's ``timestamp``, so it cannot read dialect C (epoch-seconds timestamps); the
last test pins that down, so the day the SDK learns C we hear about it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from burki import BurkiClient
from burki.exceptions import WebSocketError
from burki.models.realtime import (
    CallStatusEvent,
    CampaignCompletedEvent,
    CampaignContactEvent,
    CampaignProgressEvent,
    TranscriptEvent,
)

from tests.conftest import SIM_KEY
from webapp.simulator import Simulator

KEY = SIM_KEY  # the key of the shared ``sim`` fixture


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[BurkiClient]:
    client = BurkiClient(api_key=KEY, base_url=sim.base_url)
    yield client
    await client.close_async()


async def take(stream: Any, n: int) -> list[Any]:
    events: list[Any] = []
    async with asyncio.timeout(5):
        async for event in stream:
            events.append(event)
            if len(events) == n:
                break
    return events


async def test_the_sdk_streams_a_live_transcript(sim: Simulator, client: BurkiClient) -> None:
    sid = sim.add_call()
    sim.add_segment(sid, "user", "I was double charged", confidence=0.91)
    async with client.realtime.live_transcript(sid) as stream:
        first = await take(stream, 2)
        await sim.wait_for_connections(f"call:{sid}", 1)
        sim.add_segment(sid, "assistant", "Let me fix that", confidence=None)
        sim.set_call_status(sid, "completed")
        rest = await take(stream, 2)
    status, replayed = first
    live, ended = rest
    assert isinstance(status, CallStatusEvent) and status.status == "in-progress"
    assert status.metadata["customer_phone_number"] == "+15550100"
    assert isinstance(replayed, TranscriptEvent)
    assert (replayed.speaker, replayed.content, replayed.confidence) == (
        "user",
        "I was double charged",
        0.91,
    )
    assert isinstance(live, TranscriptEvent) and live.confidence is None
    assert isinstance(ended, CallStatusEvent) and ended.status == "completed"


async def test_the_sdk_streams_a_dialect_b_campaign_to_completion(
    sim: Simulator, client: BurkiClient
) -> None:
    cid = sim.add_campaign(name="Renewals", dialect="B", contacts=2)
    async with client.realtime.campaign_progress(cid) as stream:
        (snapshot,) = await take(stream, 1)
        await sim.wait_for_connections(f"campaign:{cid}", 1)
        sim.advance_campaign(cid, "failed")
        sim.advance_campaign(cid, "success")
        events = await take(stream, 5)
    assert isinstance(snapshot, CampaignProgressEvent)
    assert (snapshot.campaign_id, snapshot.total_contacts, snapshot.in_progress_contacts) == (
        cid,
        2,
        1,
    )
    contact, progress, _, _, completed = events
    assert isinstance(contact, CampaignContactEvent)
    assert (contact.status, contact.call_sid is not None) == ("failed", True)
    assert isinstance(progress, CampaignProgressEvent)
    assert (progress.failed_contacts, progress.contact_status) == (1, "failed")
    assert isinstance(completed, CampaignCompletedEvent)
    assert (completed.completed_contacts, completed.failed_contacts) == (1, 1)
    assert completed.success_rate == 50.0


async def test_the_sdk_reads_the_rest_api(sim: Simulator, client: BurkiClient) -> None:
    sid = sim.add_call()
    sim.add_segment(sid, "user", "Hello")
    cid = sim.add_campaign(contacts=3)
    sim.advance_campaign(cid, "success")
    calls = await client.calls.list_async(status="ongoing")
    call = await client.calls.get_by_sid_async(sid)
    transcripts = await client.calls.get_transcripts_by_sid_async(sid)
    campaign = await client.campaigns.get_async(cid)
    campaigns = await client.campaigns.list_async(status="running")
    progress = await client.campaigns.get_progress_async(cid)
    assert [c.call_sid for c in calls] == [sid]
    assert (call.status, call.call_sid) == ("ongoing", sid)
    assert [(t.speaker, t.content, t.call_id) for t in transcripts] == [("user", "Hello", call.id)]
    assert (campaign.total_contacts, campaign.completed_contacts) == (3, 1)
    assert [c.id for c in campaigns] == [cid]
    assert (progress.campaign_id, progress.status) == (cid, "running")


async def test_the_sdk_cannot_read_dialect_c_epoch_timestamps(
    sim: Simulator, client: BurkiClient
) -> None:
    cid = sim.add_campaign(dialect="C", contacts=2)
    async with client.realtime.campaign_progress(cid) as stream:
        with pytest.raises(WebSocketError, match="isoformat"):
            await take(stream, 1)
