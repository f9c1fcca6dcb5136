"""The simulated Burki's action endpoints: end a call, pause, resume or stop a campaign.

``POST /api/v1/calls/{sid}/terminate`` ends a live call (its stream sends the
``completed`` status, as a hang-up does); ``POST /api/v1/campaigns/{id}/pause``
stops dialing (the campaign's status becomes ``paused``, no contact advances),
``/start`` resumes it, ``/stop`` ends it (status ``cancelled``); an ended campaign
refuses every verb with 400 and Burki's ``detail``. In open-source mode none of these
exist: the real open-source server answers 404 for all of them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from webapp.simulator import dialects

if TYPE_CHECKING:
    from webapp.simulator.server import Simulator

TERMINATE = re.compile(r"/api/v1/calls/(?P<sid>[^/]+)/terminate")
CAMPAIGN_VERB = re.compile(r"/api/v1/campaigns/(?P<id>[0-9]{1,18})/(?P<verb>pause|start|stop)")


class ActionRefused(Exception):
    """Burki refuses the action; ``status`` and ``detail`` are its answer."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def is_action(path: str) -> bool:
    return bool(TERMINATE.fullmatch(path) or CAMPAIGN_VERB.fullmatch(path))


def act(sim: Simulator, path: str) -> dict[str, Any]:
    """Do the action ``path`` names; its JSON answer, or ActionRefused."""
    if match := TERMINATE.fullmatch(path):
        return terminate(sim, match.group("sid"))
    match = CAMPAIGN_VERB.fullmatch(path)
    assert match is not None
    return control(sim, int(match.group("id")), match.group("verb"))


def terminate(sim: Simulator, sid: str) -> dict[str, Any]:
    call = sim.store.calls.get(sid)
    if call is None:
        raise ActionRefused(404, f"Call with SID {sid} not found")
    if call.ended:
        raise ActionRefused(400, f"Call {sid} is not in progress")
    sim.set_call_status(sid, "completed")
    return {"success": True, "message": "Call terminated", "call_sid": sid}


def control(sim: Simulator, campaign_id: int, verb: str) -> dict[str, Any]:
    campaign = sim.store.campaigns.get(campaign_id)
    if campaign is None:
        raise ActionRefused(404, f"Campaign {campaign_id} not found")
    if campaign.status in ("completed", "cancelled"):
        raise ActionRefused(400, f"Campaign {campaign_id} is already {campaign.status}")
    if verb == "stop":
        sim.store.finish_campaign(campaign, "cancelled")  # Burki's word for a stopped one
        frame = dialects.completed(campaign, sim.store.clock())
        sim.session.broadcast(f"campaign:{campaign_id}", [frame])
    else:
        campaign.status = "paused" if verb == "pause" else "running"
        now = sim.store.clock()
        frame = dialects.progress(campaign, now, sim.oss_quirks)
        sim.session.broadcast(f"campaign:{campaign_id}", [frame])
    return {"success": True, "campaign_id": campaign_id, "status": campaign.status}
