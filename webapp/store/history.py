"""The history's rows: written in batches (a record written twice is one row), read by time.

:meth:`History.write` takes a batch of :mod:`~webapp.store.records` in one
transaction; each kind has a natural key (an alert's call and id, an action's
digest, a summary's call or campaign), and a row that exists is left as it is:
the first write wins. So a cluster's new stream holder may write again what the
last one wrote before it died. Retention: :meth:`History.prune` deletes one
kind's rows older than a moment; nothing else deletes.

**Organisations.** Every row belongs to one (``org``) and every natural key includes it.
Every read names the organisations whose rows it returns, ``orgs``: one slug for one
organisation's page, several for a combined one (those the person may see). Left out it
is the default organisation alone; there is no "every organisation" wildcard, so a page
shows only what it names.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from sqlalchemy import ColumnElement, Table, and_, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from webapp.store.database import Database
from webapp.store.records import (
    ActionRecord,
    AlertRecord,
    CallSummary,
    CampaignSummary,
    Handled,
    Record,
)
from webapp.store.schema import actions, alerts, call_summaries, campaign_summaries
from webapp.wire.streamkey import DEFAULT_ORG, ONLY_DEFAULT

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Kind = Literal["alerts", "actions", "calls", "campaigns"]
R = TypeVar("R", bound="DataclassInstance")
TABLES: dict[Kind, tuple[Table, str]] = {
    "alerts": (alerts, "at"),
    "actions": (actions, "at"),
    "calls": (call_summaries, "ended_at"),
    "campaigns": (campaign_summaries, "ended_at"),
}
MAX_ROWS = 5000  # a page or an export reads at most this many rows


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Which alerts: raised in [since, until), and each other field when given."""

    since: datetime
    until: datetime
    severity: str = ""
    kind: str = ""
    assistant: str = ""
    handled: bool | None = None  # True: acknowledged or claimed; False: not yet
    orgs: Collection[str] = ONLY_DEFAULT  # whose alerts (slugs): one, or several combined


class History:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def write(self, records: Sequence[Record]) -> None:
        """Write ``records`` in one transaction (all or none), in order."""
        if not records:
            return
        async with self.db.begin() as conn:
            for run in _runs(records):
                await _write(conn, run)

    async def alerts(self, which: AlertFilter, limit: int = MAX_ROWS) -> list[AlertRecord]:
        """The alerts ``which`` names, newest first."""
        c = alerts.c
        query = select(*[c[f.name] for f in fields(AlertRecord)]).where(
            c.at >= which.since, c.at < which.until, c.org.in_(sorted(which.orgs))
        )
        for column, value in (
            (c.severity, which.severity),
            (c.kind, which.kind),
            (c.assistant, which.assistant),
        ):
            if value:
                query = query.where(column == value)
        if which.handled is not None:
            handled = c.handled_by.is_not(None)
            query = query.where(handled if which.handled else ~handled)
        query = query.order_by(c.at.desc(), c.id.desc()).limit(limit)
        async with self.db.begin() as conn:
            rows = await conn.execute(query)
        return [AlertRecord(**row._asdict()) for row in rows]

    async def assistants(
        self, since: datetime, until: datetime, orgs: Collection[str] = ONLY_DEFAULT
    ) -> list[str]:
        """The assistants named by ``orgs``' alerts in the range, for a filter's choices."""
        c = alerts.c
        query = (
            select(c.assistant)
            .where(c.at >= since, c.at < until, c.assistant != "", c.org.in_(sorted(orgs)))
            .group_by(c.assistant)
            .order_by(c.assistant)
        )
        async with self.db.begin() as conn:
            return list((await conn.scalars(query)).all())

    async def actions(
        self,
        since: datetime,
        until: datetime,
        limit: int = MAX_ROWS,
        orgs: Collection[str] = ONLY_DEFAULT,
    ) -> list[ActionRecord]:
        """The actions taken in ``orgs`` in the range, newest first."""
        tiebreak = actions.c.id.desc()
        return await self._newest("actions", ActionRecord, tiebreak, since, until, limit, orgs)

    async def calls(
        self,
        since: datetime,
        until: datetime,
        limit: int = MAX_ROWS,
        orgs: Collection[str] = ONLY_DEFAULT,
    ) -> list[CallSummary]:
        """The calls of ``orgs`` that ended in the range, newest first."""
        tiebreak = call_summaries.c.call_id
        return await self._newest("calls", CallSummary, tiebreak, since, until, limit, orgs)

    async def call(self, call_id: str, org: str = DEFAULT_ORG) -> CallSummary | None:
        """The summary of ``org``'s call ``call_id``; None before it ended (or after the prune)."""
        c = call_summaries.c
        query = select(call_summaries).where(c.org == org, c.call_id == call_id)
        async with self.db.begin() as conn:
            row = (await conn.execute(query)).first()
        return CallSummary(**row._asdict()) if row is not None else None

    async def campaigns(
        self,
        since: datetime,
        until: datetime,
        limit: int = MAX_ROWS,
        orgs: Collection[str] = ONLY_DEFAULT,
    ) -> list[CampaignSummary]:
        """The campaigns of ``orgs`` that ended in the range, newest first."""
        tiebreak = campaign_summaries.c.campaign_id
        return await self._newest("campaigns", CampaignSummary, tiebreak, since, until, limit, orgs)

    async def _newest(
        self,
        kind: Kind,
        record: type[R],
        tiebreak: ColumnElement[Any],
        since: datetime,
        until: datetime,
        limit: int,
        orgs: Collection[str],
    ) -> list[R]:
        """``kind``'s rows of ``orgs`` whose time (``TABLES``) is in the range, newest first,
        as ``record``s."""
        table, column = TABLES[kind]
        when = table.c[column]
        query = (
            select(*[table.c[f.name] for f in fields(record)])
            .where(when >= since, when < until, table.c.org.in_(sorted(orgs)))
            .order_by(when.desc(), tiebreak, table.c.org)
            .limit(limit)
        )
        async with self.db.begin() as conn:
            rows = await conn.execute(query)
        return [record(**row._asdict()) for row in rows]

    async def count(self, kind: Kind) -> int:
        table, _ = TABLES[kind]
        async with self.db.begin() as conn:
            return int((await conn.execute(select(func.count()).select_from(table))).scalar() or 0)

    async def prune(self, kind: Kind, before: datetime) -> int:
        """Delete ``kind``'s rows older than ``before``; how many went."""
        table, column = TABLES[kind]
        async with self.db.begin() as conn:
            done = await conn.execute(delete(table).where(table.c[column] < before))
        return done.rowcount


def _runs(records: Sequence[Record]) -> list[list[Record]]:
    """``records`` in runs of one type, in order: each run is one statement."""
    runs: list[list[Record]] = []
    for record in records:
        if runs and type(runs[-1][0]) is type(record):
            runs[-1].append(record)
        else:
            runs.append([record])
    return runs


async def _write(conn: AsyncConnection, run: list[Record]) -> None:
    """One run of records of one type: an insert of them all (a row that exists is left as
    it is), or for acknowledgements an update each, in order."""
    if isinstance(run[0], Handled):
        c = alerts.c
        for mark in run:
            assert isinstance(mark, Handled)
            await conn.execute(
                update(alerts)
                .where(and_(c.org == mark.org, c.call_id == mark.call_id, c.handled_by.is_(None)))
                .values(handled_by=mark.by[:128], handled_how=mark.how, handled_at=mark.at)
            )
        return
    rows = [_row(record) for record in run]
    table = rows[0][0]
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    await conn.execute(insert(table).on_conflict_do_nothing(), [_fit(table, v) for _, v in rows])


def _fit(table: Table, values: dict[str, Any]) -> dict[str, Any]:
    """Text cut to its column's length (PostgreSQL refuses a longer one; SQLite keeps it)."""
    fitted = dict(values)
    for name, value in values.items():
        length = getattr(table.c[name].type, "length", None)
        if isinstance(value, str) and length is not None and len(value) > length:
            fitted[name] = value[: length - 1] + "…"
    return fitted


def _row(record: Record) -> tuple[Table, dict[str, Any]]:
    values = asdict(record)
    if isinstance(record, AlertRecord):
        return alerts, values
    if isinstance(record, ActionRecord):
        return actions, {**values, "key": record.key}
    if isinstance(record, CallSummary):
        return call_summaries, values
    return campaign_summaries, values
