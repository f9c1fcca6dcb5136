"""The audit log: who opened which call or campaign, when, from where, and how.

One row per entry in the store's ``audit_log`` table, appended by ``record()``;
an entry once written is never changed (the application has no way to, and
the database refuses it). ``prune()`` is the only delete: the entries older
than the retention. ``record()`` returns once its entry is written, except
while the database is unreachable: then entries wait in memory (at most
``PENDING``, the oldest dropped first and counted in a warning), a request
does not wait on the database again for ``RETRY`` seconds after a failure,
and a later ``record()`` or read that finds it back writes them, in order.

Values are cut to one short line: callers pass names and routes, never tokens
or passwords (a route's query string, which could hold an embed token, is
dropped here as a last guard).
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol, get_args

from webapp.store.audit import AuditRow
from webapp.store.database import StoreUnavailable
from webapp.store.store import Store

log = logging.getLogger(__name__)

# "none": a request with nobody signed in (refused, or a failed sign-in); "cli": a command.
Via = Literal["page", "token", "embed", "sso", "none", "cli"]
VIAS: frozenset[str] = frozenset(get_args(Via))
MAX_VALUE_LENGTH = 256
FOLDED_KEYS = 4096  # the most recent entries remembered for folding repeats
PENDING = 10_000  # entries kept in memory while the database is unreachable
RETRY = 2.0  # seconds after a failed write before a request waits on the database again
# Spreadsheets run a cell that starts with one of these as a formula (OWASP: CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    who: str
    via: str
    what: str
    route: str
    address: str
    org: str = ""  # the organisation of what was opened ('' for nothing of one)


_TEXT_FIELDS = tuple(f.name for f in fields(AuditEntry) if f.name != "at")


def clean(value: str) -> str:
    """One line of at most 256 characters: control characters (newlines too) become a space."""
    return _CONTROL.sub(" ", value).strip()[:MAX_VALUE_LENGTH]


def utc_now() -> datetime:
    return datetime.now(UTC)


class AuditLog:
    """The audit log in the store, kept ``retention_days`` days."""

    def __init__(
        self, store: Store, retention_days: int, clock: Callable[[], datetime] = utc_now
    ) -> None:
        if retention_days < 1:
            raise ValueError("the audit retention is at least one day")
        self.store = store
        self.retention = timedelta(days=retention_days)
        self._clock = clock
        self._recent: OrderedDict[tuple[str, ...], datetime] = OrderedDict()
        self._pending: deque[AuditEntry] = deque(maxlen=PENDING)
        self._dropped = 0
        self._flushing = asyncio.Lock()
        self._retry_at = 0.0  # monotonic: no write is tried before it after a failure

    async def record(
        self,
        who: str,
        via: Via,
        what: str,
        route: str,
        address: str,
        *,
        fold: float = 0.0,
        session: str = "",
        org: str = "",
    ) -> AuditEntry | None:
        """Append one entry stamped now (UTC); ValueError for an unknown ``via``.

        ``org``: the organisation of what was opened ('' for nothing of one: a sign-in,
        the admin page).

        With ``fold`` (seconds), an entry of the same who, via, what, address
        and ``session`` recorded less than ``fold`` seconds ago stands for this
        one: nothing is written and None is returned (a resumed stream is the
        same viewing; a page seen again in one session is the same page view;
        a flood of refusals is one line a minute, not one per request). Never
        raises for the database: an unreachable one queues the entry.
        """
        if via not in VIAS:
            raise ValueError(f"via is one of {', '.join(sorted(VIAS))}")
        now = self._clock()
        key = (clean(who), via, clean(what), clean(address), session, clean(org)[:32])
        if self._folds(key, now, fold):
            return None
        entry = AuditEntry(
            at=now.astimezone(UTC).replace(microsecond=0),
            who=clean(who),
            via=via,
            what=clean(what),
            route=clean(route.partition("?")[0]),
            address=clean(address),
            org=clean(org)[:32],
        )
        if len(self._pending) == PENDING:
            self._dropped += 1
        self._pending.append(entry)
        if time.monotonic() >= self._retry_at:  # the database just failed: do not wait on it
            await self.flush()
        return entry

    async def close(self) -> None:
        """Write what waits (the owner calls it last: the lifespan, a CLI command)."""
        await self.flush()

    @property
    def pending(self) -> int:
        """Entries waiting for the database."""
        return len(self._pending)

    async def flush(self) -> None:
        """Write the waiting entries, oldest first; they keep waiting if the database is away."""
        async with self._flushing:  # one write at a time: no entry is written twice
            batch = list(self._pending)
            if not batch:
                return
            try:
                await self.store.audit.append([AuditRow(**asdict(entry)) for entry in batch])
            except StoreUnavailable as exc:
                self._retry_at = time.monotonic() + RETRY
                log.warning("audit: %d entries wait for the database: %s", len(batch), exc)
                return
            for _ in batch:  # entries recorded while these were written stay queued
                if self._pending:
                    self._pending.popleft()
        if self._dropped:
            log.warning("audit: %d entries were dropped while the database was away", self._dropped)
            self._dropped = 0

    def _folds(self, key: tuple[str, ...], now: datetime, fold: float) -> bool:
        """Whether ``key`` was seen within ``fold`` seconds; remembers it as seen now if not."""
        seen = self._recent.get(key)
        if fold > 0 and seen is not None and (now - seen).total_seconds() < fold:
            return True
        self._recent[key] = now
        self._recent.move_to_end(key)
        while len(self._recent) > FOLDED_KEYS:
            self._recent.popitem(last=False)
        return False

    async def entries(
        self, limit: int | None = 100, since: datetime | None = None, org: str | None = None
    ) -> list[AuditEntry]:
        """Up to ``limit`` entries (all with None) at or after ``since``, newest first; with
        ``org``, only those of that organisation ('': of none)."""
        await self.flush()
        rows = await self.store.audit.newest(limit, since, org)
        return [AuditEntry(**asdict(row)) for row in rows]

    async def prune(self) -> int:
        """Drop entries older than the retention; the only delete. Returns how many went."""
        return await self.store.audit.prune(self._clock() - self.retention)


class SharedOnce(Protocol):
    """Page views recorded once per session across a cluster's nodes (``webapp.cluster``).

    ``first(key, seconds)``: whether no node noted ``key`` in the last ``seconds`` (and
    note it now). A node that cannot ask says True: an entry too many, never one too few.
    """

    async def first(self, key: tuple[str, ...], seconds: float) -> bool: ...
    async def close(self) -> None: ...


def to_csv(entries: Iterable[AuditEntry]) -> str:
    """CSV with a header row; a cell a spreadsheet would run as a formula gets a ``'`` first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["at", *_TEXT_FIELDS])
    for entry in entries:
        at = entry.at.isoformat().replace("+00:00", "Z")
        writer.writerow([at, *(_defuse(getattr(entry, name)) for name in _TEXT_FIELDS)])
    return out.getvalue()


def _defuse(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value
