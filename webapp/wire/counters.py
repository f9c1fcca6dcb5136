"""Campaign counters from the counts each Burki dialect sends.

Pure. The three dialects name and mean their counts differently (``completed``
is every done contact in A, only the successful ones in B and C); ``read_a``,
``read_b`` and ``read_c`` bring them to one ``Counts``, and ``to_counters`` turns
that into ``webapp.wire.events.Counters`` (see there for what each counter means).

Choices where the sources leave room:

- Counters are recomputed from counts wherever the counts allow:
  ``success_rate = successful / completed * 100`` (None while nothing is
  completed) and ``percent_done = completed / total * 100``. A rate or
  percentage Burki sent is used only when the counts cannot give it.
- A sent rate is always read as a percent, as every Burki source documents it:
  ``0.5`` is 0.5 %, not 50 %. Guessing a 0..1 scale would misread real low rates.
  A sent rate outside 0..100 is absent.
- Absent counts: ``in_progress = max(total - completed - pending, 0)``;
  ``pending = max(total - completed - in_progress, 0)`` (when both are absent,
  nothing is in progress). Inconsistent counts (completed above total) pass
  through as sent: nothing is clamped silently.
- A negative or wrong-typed count, or an outcome count above the completed
  count, raises ``webapp.wire.fields.Invalid``: the frame is skipped, not guessed at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from webapp.wire.events import Counters
from webapp.wire.fields import Invalid, Message, read_count, read_percent


@dataclass(frozen=True, slots=True)
class Counts:
    """Counts as one dialect sent them, None where absent; ``done`` is any outcome."""

    total: int | None = None
    done: int | None = None
    successful: int | None = None
    failed: int | None = None
    in_progress: int | None = None
    pending: int | None = None
    rate: float | None = None
    percent: float | None = None


# Where each dialect keeps each count: ``Counts`` field -> wire key.
_A_KEYS = {
    "total": "total_contacts",
    "done": "completed_contacts",  # A: every done contact
    "successful": "successful_contacts",
    "failed": "failed_contacts",
    "in_progress": "in_progress_contacts",
    "pending": "pending_contacts",
}
_B_KEYS = {
    "total": "total_contacts",
    "successful": "completed_contacts",  # B: the successful ones only
    "failed": "failed_contacts",
    "in_progress": "in_progress_contacts",
    "pending": "pending_contacts",
}
_C_KEYS = {
    "total": "total_contacts",
    "successful": "completed",  # C: the successful ones only
    "failed": "failed",
    "in_progress": "processing",
    "pending": "pending",
}


def read_a(d: Message) -> Counts:
    """Dialect A: the ``data`` of ``progress`` and ``campaign_completed``."""
    return _read(d, _A_KEYS, "success_rate", "completion_percentage")


def read_b(d: Message) -> Counts:
    """Dialect B: the flat ``progress`` and ``campaign_completed`` messages."""
    return _read(d, _B_KEYS, "success_rate", "completion_percentage")


def read_c(p: Message) -> Counts:
    """Dialect C: the ``progress`` object of ``initial_progress`` / ``progress_update``."""
    return _read(p, _C_KEYS, "success_rate", "progress_percentage")


def _read(d: Message, keys: Mapping[str, str], rate: str, percent: str) -> Counts:
    counts = {name: read_count(d, key) for name, key in keys.items()}
    return Counts(**counts, rate=read_percent(d, rate), percent=read_percent(d, percent))


def to_counters(c: Counts) -> Counters:
    """Every counter, computed from the counts where they allow (module docstring)."""
    successful, failed, done, exact = _outcomes(c)
    total = c.total if c.total is not None else done + (c.in_progress or 0) + (c.pending or 0)
    pending = c.pending
    if pending is None:
        pending = max(total - done - (c.in_progress or 0), 0)
    in_progress = c.in_progress
    if in_progress is None:
        in_progress = max(total - done - pending, 0)
    rate = (successful / done * 100 if done else None) if exact else c.rate
    percent = done / total * 100 if total else (c.percent or 0.0)
    return Counters(total, done, successful, failed, in_progress, pending, rate, percent)


def _outcomes(c: Counts) -> tuple[int, int, int, bool]:
    """(successful, failed, done, whether successful and done are both known)."""
    s, f, done = c.successful, c.failed, c.done
    if s is not None and f is not None:
        return s, f, s + f, True
    if done is None:
        return s or 0, f or 0, (s or 0) + (f or 0), False
    if s is not None:
        return s, _rest(done, s), done, True
    if f is not None:
        return _rest(done, f), f, done, True
    return 0, 0, done, False


def _rest(done: int, part: int) -> int:
    if part > done:
        raise Invalid("an outcome count exceeds the completed count")
    return done - part
