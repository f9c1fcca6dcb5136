"""The history's writer: offers never wait, an outage queues records (bounded), and they are
written in order once the database is back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.postgres import PostgresServer
from webapp.store.database import database_url as parse_url
from webapp.store.history import AlertFilter
from webapp.store.recorder import Recorder
from webapp.store.records import AlertRecord
from webapp.store.store import open_store

T0 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
DAY = AlertFilter(T0 - timedelta(days=1), T0 + timedelta(days=1))


def alert(n: int) -> AlertRecord:
    at = T0 + timedelta(seconds=n)
    return AlertRecord("CA1", f"a-{n}", at, "keyword", "high", "said x", "x")


async def test_records_wait_out_a_database_outage_and_are_written_when_it_is_back(
    postgres: PostgresServer,
) -> None:
    store = await open_store(parse_url(postgres.new_database()), timeout=2.0)
    recorder = Recorder(store.history, limit=1000, retry=0.05, retry_max=0.2)
    recorder.start()
    try:
        recorder.offer(alert(0))
        await recorder.drained()
        await asyncio.to_thread(postgres.stop)
        try:
            for n in range(1, 301):  # more than one batch
                assert recorder.offer(alert(n))  # never waits for the database
            await asyncio.wait_for(recorder.outage.wait(), 30)
            assert recorder.backlog == 300
        finally:
            await asyncio.to_thread(postgres.start)
        await asyncio.wait_for(recorder.drained(), 30)
        found = await store.history.alerts(DAY)
        assert [a.alert_id for a in reversed(found)] == [f"a-{n}" for n in range(301)]
        assert not recorder.unreachable and recorder.dropped == 0
    finally:
        await recorder.close()
        await store.close()


async def test_a_full_queue_refuses_new_records_and_counts_them(database_url: str) -> None:
    store = await open_store(parse_url(database_url))
    recorder = Recorder(store.history, limit=100)
    try:
        accepted = [recorder.offer(alert(n)) for n in range(150)]
        assert accepted == [True] * 100 + [False] * 50
        assert (recorder.backlog, recorder.dropped) == (100, 50)
        recorder.start()
        await asyncio.wait_for(recorder.drained(), 30)
        assert await store.history.count("alerts") == 100
    finally:
        await recorder.close()
        await store.close()


async def test_shutdown_writes_what_is_queued(database_url: str) -> None:
    store = await open_store(parse_url(database_url))
    recorder = Recorder(store.history)
    recorder.start()
    try:
        for n in range(50):
            recorder.offer(alert(n))
    finally:
        await recorder.close()
    try:
        assert await store.history.count("alerts") == 50
    finally:
        await store.close()
