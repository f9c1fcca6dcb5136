"""The audit log: who opened which call or campaign, when, from where, and how.

One JSON object per line, appended and flushed one line per ``record()``; a line
once written is never changed. ``prune()`` is the only rewrite: it drops the
entries older than the retention by writing a new file and swapping it in with
``os.replace``. Records and prunes of one file take the same lock, so a prune
never loses a line written meanwhile (and since every record opens the file
anew, no writer keeps appending to a file that a prune replaced).

Calls block on file I/O for a fraction of a millisecond; callers on the event
loop may run them in a thread pool. Values are cut to one short line: callers
pass names and routes, never tokens or passwords (a route's query string, which
could hold an embed token, is dropped here as a last guard).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol, get_args

from webapp.access.users import atomic_write, ensure_private_dir, file_lock

log = logging.getLogger(__name__)

# "none": a request with nobody signed in (refused, or a failed sign-in); "cli": a command.
Via = Literal["page", "token", "embed", "sso", "none", "cli"]
VIAS: frozenset[str] = frozenset(get_args(Via))
MAX_VALUE_LENGTH = 256
FOLDED_KEYS = 4096  # the most recent entries remembered for folding repeats
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


_TEXT_FIELDS = tuple(f.name for f in fields(AuditEntry) if f.name != "at")


def clean(value: str) -> str:
    """One line of at most 256 characters: control characters (newlines too) become a space."""
    return _CONTROL.sub(" ", value).strip()[:MAX_VALUE_LENGTH]


def utc_now() -> datetime:
    return datetime.now(UTC)


class AuditLog:
    """An append-only JSON-lines file of AuditEntry, kept ``retention_days`` days."""

    def __init__(
        self, path: Path, retention_days: int, clock: Callable[[], datetime] = utc_now
    ) -> None:
        if retention_days < 1:
            raise ValueError("the audit retention is at least one day")
        self.path = Path(path)
        self.retention = timedelta(days=retention_days)
        self._clock = clock
        self._recent: OrderedDict[tuple[str, ...], datetime] = OrderedDict()
        self._recent_lock = threading.Lock()

    def record(
        self,
        who: str,
        via: Via,
        what: str,
        route: str,
        address: str,
        *,
        fold: float = 0.0,
        session: str = "",
    ) -> AuditEntry | None:
        """Append one entry stamped now (UTC); ValueError for an unknown ``via``.

        With ``fold`` (seconds), an entry of the same who, via, what, address
        and ``session`` recorded less than ``fold`` seconds ago stands for this
        one: nothing is written and None is returned (a resumed stream is the
        same viewing; a page seen again in one session is the same page view;
        a flood of refusals is one line a minute, not one per request).
        """
        if via not in VIAS:
            raise ValueError(f"via is one of {', '.join(sorted(VIAS))}")
        now = self._clock()
        key = (clean(who), via, clean(what), clean(address), session)
        if self._folds(key, now, fold):
            return None
        entry = AuditEntry(
            at=now.astimezone(UTC).replace(microsecond=0),
            who=clean(who),
            via=via,
            what=clean(what),
            route=clean(route.partition("?")[0]),
            address=clean(address),
        )
        self._append(_to_line(entry))
        return entry

    def _folds(self, key: tuple[str, ...], now: datetime, fold: float) -> bool:
        """Whether ``key`` was seen within ``fold`` seconds; remembers it as seen now if not."""
        with self._recent_lock:
            seen = self._recent.get(key)
            if fold > 0 and seen is not None and (now - seen).total_seconds() < fold:
                return True
            self._recent[key] = now
            self._recent.move_to_end(key)
            while len(self._recent) > FOLDED_KEYS:
                self._recent.popitem(last=False)
            return False

    def _append(self, line: str) -> None:
        ensure_private_dir(self.path.parent)
        with file_lock(self.path):
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as file:
                file.write(line)
                file.flush()

    def entries(self, limit: int | None = 100, since: datetime | None = None) -> list[AuditEntry]:
        """Up to ``limit`` entries (all with None) at or after ``since``, newest first."""
        kept: deque[AuditEntry] = deque(maxlen=limit)
        for entry in self._read():
            if since is None or entry.at >= since:
                kept.append(entry)
        # Reversed first: entries of the same second then stay newest first (sorts are stable).
        return sorted(reversed(kept), key=lambda entry: entry.at, reverse=True)

    def prune(self) -> int:
        """Drop entries older than the retention; the only rewrite. Returns how many went.

        Lines that cannot be read are kept: without a date, nothing says they are old.
        """
        cutoff = self._clock() - self.retention
        with file_lock(self.path):
            try:
                lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
            except FileNotFoundError:
                return 0
            kept = [line for line in lines if not _older(line, cutoff)]
            if len(kept) < len(lines):
                atomic_write(self.path, "".join(kept).encode())
        return len(lines) - len(kept)

    def _read(self) -> Iterable[AuditEntry]:
        try:
            file = self.path.open(encoding="utf-8")
        except FileNotFoundError:
            return
        bad = 0
        with file:
            for line in file:
                entry = _from_line(line)
                if entry is None:
                    bad += 1
                else:
                    yield entry
        if bad:
            log.warning("%s: skipped %d unreadable lines", self.path, bad)


class SharedOnce(Protocol):
    """Page views recorded once per session across a cluster's nodes (``webapp.cluster``).

    ``first(key, seconds)``: whether no node noted ``key`` in the last ``seconds`` (and
    note it now). A node that cannot ask says True: an entry too many, never one too few.
    """

    async def first(self, key: tuple[str, ...], seconds: float) -> bool: ...
    async def close(self) -> None: ...


def _to_line(entry: AuditEntry) -> str:
    data = asdict(entry)
    data["at"] = entry.at.isoformat().replace("+00:00", "Z")
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"


def _from_line(line: str) -> AuditEntry | None:
    try:
        data = json.loads(line)
        at = datetime.fromisoformat(data["at"])
        values = {name: str(data[name]) for name in _TEXT_FIELDS}
    except (ValueError, KeyError, TypeError):
        return None
    if at.tzinfo is None:
        return None
    return AuditEntry(at=at, **values)


def _older(line: str, cutoff: datetime) -> bool:
    entry = _from_line(line)
    return entry is not None and entry.at < cutoff


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
