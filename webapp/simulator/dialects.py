"""The campaign-progress stream in each of Burki's three dialects.

- **A** (the SDK guide): ``connection_established``; ``progress``, ``contact_completed``
  and ``campaign_completed`` with their fields in ``data``. ``completed_contacts``
  counts every contact that is done, ``successful_contacts`` the successes.
- **B** (the Python SDK's parser): the same names but flat fields, plus
  ``contact_update``; here ``completed_contacts`` counts the *successful* contacts
  and ``failed_contacts`` the failed ones. ISO timestamps, so the SDK can parse them.
- **C** (the WebSocket API reference): ``connection_ack`` with an epoch-seconds
  timestamp, ``initial_progress`` on connect, ``progress_update`` after; a finished
  campaign is a ``progress_update`` whose ``data.status`` is ``"completed"``;
  ``metrics_history`` answers ``request_history``.

Each function returns the frames to send, in order.
"""

from __future__ import annotations

from datetime import datetime

from webapp.simulator.model import Campaign, Contact, Counts
from webapp.simulator.wire import Frame, epoch, naive, stamp


def greeting(campaign: Campaign, now: datetime, oss: bool) -> list[Frame]:
    """On connect: the dialect's hello, the current progress, and for a finished
    campaign in A or B the ``campaign_completed`` summary."""
    if campaign.dialect == "C":
        return [
            {"type": "connection_ack", "campaign_id": campaign.id, "timestamp": epoch(now)},
            c_progress_message(campaign, "initial_progress", now, oss),
        ]
    frames = [hello(campaign.id, now), progress(campaign, now, oss)]
    if campaign.status in ("completed", "cancelled"):
        frames.append(completed(campaign, now))
    return frames


def hello(campaign_id: int, now: datetime) -> Frame:
    return {
        "type": "connection_established",
        "campaign_id": campaign_id,
        "timestamp": naive(now),
        "message": "Connected to campaign progress stream",
    }


def progress(campaign: Campaign, now: datetime, oss: bool, contact: Contact | None = None) -> Frame:
    """The dialect's progress message (``contact`` is the one that just changed, B only)."""
    if campaign.dialect == "A":
        return _envelope("progress", campaign.id, now, _a_counts(campaign.counts()))
    if campaign.dialect == "B":
        return _b_progress(campaign, now, contact)
    return c_progress_message(campaign, "progress_update", now, oss)


def contact_done(campaign: Campaign, contact: Contact, now: datetime, oss: bool) -> list[Frame]:
    """After one contact completed: contact message and progress, then the end if any."""
    if campaign.dialect == "C":
        return [progress(campaign, now, oss)]
    if campaign.dialect == "A":
        frames = [_envelope("contact_completed", campaign.id, now, _a_contact(contact))]
    else:
        frames = [_b_contact(campaign.id, contact, now)]
    frames.append(progress(campaign, now, oss, contact))
    if campaign.status == "completed":
        frames.append(completed(campaign, now))
    return frames


def completed(campaign: Campaign, now: datetime) -> Frame:
    counts = campaign.counts()
    if campaign.dialect == "A":
        data = {
            **_a_counts(counts),
            "total_duration": campaign.total_duration,
            "total_cost": campaign.total_cost,
        }
        return _envelope("campaign_completed", campaign.id, now, data)
    return {
        "type": "campaign_completed",
        "campaign_id": campaign.id,
        "timestamp": naive(now),
        "total_contacts": counts.total,
        "completed_contacts": counts.successful,
        "failed_contacts": counts.failed,
        "success_rate": counts.success_rate,
        "total_duration": campaign.total_duration,
        "total_cost": campaign.total_cost,
    }


def metrics_history(campaign: Campaign, hours: float, now: datetime) -> Frame:
    """Dialect C's answer to ``{"type":"request_history","hours":N}``: samples within N hours."""
    since = now.timestamp() - hours * 3600
    samples = [
        {"timestamp": epoch(sample.at), **c_progress(sample.counts)}
        for sample in campaign.history
        if sample.at.timestamp() >= since
    ]
    return {
        "type": "metrics_history",
        "campaign_id": campaign.id,
        "timestamp": epoch(now),
        "data": {"campaign_id": campaign.id, "hours": hours, "history": samples},
    }


def c_progress(counts: Counts) -> Frame:
    """Dialect C's counters (also the REST ``progress`` object): ``completed`` = successful."""
    return {
        "total_contacts": counts.total,
        "completed": counts.successful,
        "failed": counts.failed,
        "processing": counts.in_progress,
        "pending": counts.pending,
        "progress_percentage": counts.percent_done,
        "success_rate": counts.success_rate,
    }


def activity(contact: Contact, oss: bool) -> Frame:
    """One entry of ``recent_activity``; ``call_id`` is the contact's call SID."""
    return {
        "execution_id": contact.id,
        "contact_phone": contact.phone,
        "status": contact.status,
        "executed_at": stamp(contact.executed_at, oss),
        "call_id": contact.call_sid,
    }


def c_progress_message(campaign: Campaign, kind: str, now: datetime, oss: bool) -> Frame:
    data = {
        "campaign_id": campaign.id,
        "status": campaign.status,
        "progress": c_progress(campaign.counts()),
        "started_at": stamp(campaign.started_at, oss),
        "completed_at": stamp(campaign.completed_at, oss),
        "recent_activity": [activity(contact, oss) for contact in campaign.recent()],
    }
    return {"type": kind, "campaign_id": campaign.id, "timestamp": epoch(now), "data": data}


def _envelope(kind: str, campaign_id: int, now: datetime, data: Frame) -> Frame:
    return {"type": kind, "campaign_id": campaign_id, "timestamp": naive(now), "data": data}


def _a_counts(counts: Counts) -> Frame:
    return {
        "total_contacts": counts.total,
        "completed_contacts": counts.done,
        "successful_contacts": counts.successful,
        "failed_contacts": counts.failed,
        "pending_contacts": counts.total - counts.done,
        "success_rate": counts.success_rate,
    }


def _a_contact(contact: Contact) -> Frame:
    return {
        "phone_number": contact.phone,
        "name": contact.name,
        "outcome": "success" if contact.status == "completed" else contact.status,
        "duration": contact.duration,
        "call_sid": contact.call_sid,
    }


def _b_progress(campaign: Campaign, now: datetime, contact: Contact | None) -> Frame:
    counts = campaign.counts()
    return {
        "type": "progress",
        "campaign_id": campaign.id,
        "timestamp": naive(now),
        "total_contacts": counts.total,
        "completed_contacts": counts.successful,
        "failed_contacts": counts.failed,
        "pending_contacts": counts.pending,
        "in_progress_contacts": counts.in_progress,
        "completion_percentage": counts.percent_done,
        "contact_id": contact.id if contact else None,
        "contact_phone": contact.phone if contact else None,
        "contact_status": contact.status if contact else None,
        "contact_error": contact.error if contact else None,
    }


def _b_contact(campaign_id: int, contact: Contact, now: datetime) -> Frame:
    return {
        "type": "contact_update",
        "campaign_id": campaign_id,
        "timestamp": naive(now),
        "contact_id": contact.id,
        "phone_number": contact.phone,
        "status": contact.status,
        "call_sid": contact.call_sid,
        "call_duration": contact.duration,
        "error_message": contact.error,
    }
