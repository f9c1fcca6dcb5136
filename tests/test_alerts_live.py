"""Alerts and webhooks end to end: simulator -> relay -> SSE viewers and a real HTTP receiver."""

from __future__ import annotations

import json

from tests.live import Viewer, data, has_segment, is_event, part, parts_of, running_app
from tests.receiver import receiving
from webapp.alerts.signed import SIGNATURE_HEADER, verify
from webapp.simulator import Simulator

SECRET = "whsec-live-test-6a1f0c9e"
ANGRY = [
    "This is ridiculous, I am furious and I hate this terrible service!",
    "You people are useless, this is the worst experience ever.",
    "I am so angry, this is a disgusting scam!",
]


def endpoints(url: str, *events: str) -> str:
    return json.dumps([{"url": url, "secret": SECRET, "events": list(events)}])


async def test_an_angry_caller_raises_one_alert_per_offending_segment(sim: Simulator) -> None:
    sid = sim.add_call()
    async with running_app(sim) as live, live.client(timeout=10) as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("status", state="live"))
        sim.add_segment(sid, "user", "Hi, I have a question about my bill.")
        for text in ANGRY:
            sim.add_segment(sid, "user", text)
        sim.add_segment(sid, "assistant", "I am terribly sorry, that is awful.")  # never scored
        sim.add_segment(sid, "user", "Thanks, that helps.")
        await viewer.wait_for(has_segment("Thanks, that helps."))
        await viewer.wait_for(lambda e: (part(e, "sentiment") or {}).get("index") == 5)
        alerts = [data(e) for e in viewer.events if e.event == "alert"]
        segment_alerts = [a for a in alerts if a.get("scope") == "segment"]
        assert sorted(a["segment_index"] for a in segment_alerts) == [1, 2, 3]
        assert len({a["id"] for a in alerts}) == len(alerts)
        scored = [s["index"] for s in parts_of(viewer.events, "sentiment")]
        assert not any(e.event == "sentiment" for e in viewer.events)  # each rides its segment
        assert scored == [0, 1, 2, 3, 5]
        # Alerts survive resume: a new viewer's snapshot carries them.
        late = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        snapshot = data(await late.wait_for(is_event("snapshot")))
        assert [a["id"] for a in snapshot["alerts"]] == [a["id"] for a in alerts]
        assert snapshot["sentiment"]["count"] == 5
        await viewer.stop()
        await late.stop()


async def test_keyword_alerts_follow_the_configured_phrases(sim: Simulator) -> None:
    sid = sim.add_call()
    rules = {"alert_keywords": "lawyer:high, speak to a manager:medium"}
    async with running_app(sim, **rules) as live, live.client(timeout=10) as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("status", state="live"))
        sim.add_segment(sid, "user", "I would like to SPEAK TO A MANAGER, please.")
        sim.add_segment(sid, "user", "My lawyers office called.")  # not the whole word
        sim.add_segment(sid, "user", "Fine, my lawyer will call you.")
        alert = await viewer.wait_for(
            lambda e: e.event == "alert" and data(e)["severity"] == "high"
        )
        keywords = [
            data(e) for e in viewer.events if e.event == "alert" and data(e)["kind"] == "keyword"
        ]
        assert [(k["phrase"], k["segment_index"]) for k in keywords] == [
            ("speak to a manager", 0),
            ("lawyer", 2),
        ]
        assert "lawyer" in data(alert)["message"]
        await viewer.stop()


async def test_alerts_and_campaign_events_reach_a_webhook_signed_and_only_once(
    sim: Simulator,
) -> None:
    sid = sim.add_call()
    cid = sim.add_campaign(name="Hooks", dialect="B", contacts=2)
    async with receiving() as receiver:
        hooks = {"webhook_endpoints": endpoints(receiver.url, "alert", "campaign")}
        async with running_app(sim, **hooks) as live, live.client(timeout=10) as client:
            calls = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
            campaign = Viewer(live.url, f"/api/campaigns/{cid}/events").start(client)
            await calls.wait_for(is_event("status", state="live"))
            await campaign.wait_for(is_event("status", state="live"))
            sim.add_segment(sid, "user", ANGRY[0])
            await calls.wait_for(is_event("alert"))
            sim.advance_campaign(cid, outcome="success")
            sim.advance_campaign(cid, outcome="failed")
            await campaign.wait_for(is_event("campaign_completed"))
            # An upstream drop replays the transcript: the alert must not be posted again.
            await sim.drop(f"call:{sid}")
            await calls.wait_for(
                lambda e: e.event == "status" and data(e)["state"] == "reconnecting"
            )
            await calls.wait_for(lambda e: e.event == "status" and data(e)["state"] == "live")
            sim.add_segment(sid, "user", "Okay.")
            await calls.wait_for(has_segment("Okay."))
            await live.state.webhooks.wait_idle()
            await calls.stop()
            await campaign.stop()
    posted = [(r.json["type"], r.json["id"]) for r in receiver.requests]
    assert [t for t, _ in posted].count("alert") >= 1
    assert len(posted) == len(set(posted)), posted
    assert {"contact", "campaign_completed"} <= {t for t, _ in posted}
    for request in receiver.requests:
        assert verify(SECRET, request.headers[SIGNATURE_HEADER.lower()], request.body)
        assert SECRET not in request.body.decode()


async def test_a_dead_webhook_endpoint_does_not_slow_the_stream(sim: Simulator) -> None:
    from tests.receiver import dead_url

    sid = sim.add_call()
    hooks = {"webhook_endpoints": endpoints(dead_url(), "alert", "call_status")}
    async with running_app(sim, **hooks) as live, live.client(timeout=10) as client:
        viewer = Viewer(live.url, f"/api/calls/{sid}/events").start(client)
        await viewer.wait_for(is_event("status", state="live"))
        for n in range(30):
            sim.add_segment(sid, "user", f"{ANGRY[n % 3]} ({n})")
        await viewer.wait_for(has_segment(f"{ANGRY[29 % 3]} (29)"), timeout=5)
        status = live.state.webhooks.status()[0]
        assert status["delivered"] == 0
        metrics = (await client.get(f"{live.url}/metrics")).text
        assert "burki_live_webhook{" in metrics
        await viewer.stop()
