"""Delivery receipts arriving together are written together, on the real PostgreSQL: each
caller learns whether its message is ours; a delivered message is marked delivered, a failed
one due for its fallback at once; of two receipts for one message in one write, the later
counts; a write that fails answers every caller with the fault."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from notifier.adapters import notification_store as store
from notifier.adapters.receipt_writer import ReceiptWriter
from notifier.main import MIGRATIONS
from notifier.ports import Ending
from shared.database import Database
from tests.support.databases import opened
from tests.support.servers import Servers


@pytest.fixture
async def database(servers: Servers, db_schema: str) -> AsyncIterator[Database]:
    async with opened(servers, db_schema, MIGRATIONS) as database:
        yield database


async def sent_messages(database: Database, n: int) -> list[uuid.UUID]:
    """n messages sent and awaiting their receipts (a day from now)."""
    ids = [uuid.uuid4() for _ in range(n)]
    due = datetime.now(UTC) + timedelta(days=1)
    async with database.pool.acquire() as conn:
        await conn.executemany(
            "INSERT INTO notifications (notification_id, decision_event_id, referral_id,"
            " recipient, channel, status, receipt_due_at)"
            " VALUES ($1, $2, $3, 'patient', 'sms', 'sent', $4)",
            [(i, uuid.uuid4(), uuid.uuid4(), due) for i in ids],
        )
    return ids


async def test_receipts_arriving_together_are_each_answered_and_written(
    database: Database,
) -> None:
    ours = await sent_messages(database, 40)
    writer = ReceiptWriter(database)
    stranger = uuid.uuid4()
    statuses = ["delivered" if i % 4 else "permanent-failure" for i in range(len(ours))]
    answers = await asyncio.gather(
        *(writer.record(i, s) for i, s in zip(ours, statuses, strict=True)),
        writer.record(stranger, "delivered"),
    )
    assert answers == [True] * len(ours) + [False]
    async with database.pool.acquire() as conn:
        rows = {
            r["notification_id"]: r
            for r in await conn.fetch(
                "SELECT notification_id, status, delivery_status, receipt_due_at <= now() AS due"
                " FROM notifications"
            )
        }
    for i, status in zip(ours, statuses, strict=True):
        assert rows[i]["delivery_status"] == status
        if status == "delivered":
            assert (rows[i]["status"], rows[i]["due"]) == ("delivered", None)
        else:  # its fallback is due now
            assert (rows[i]["status"], rows[i]["due"]) == ("sent", True)


async def test_of_two_receipts_for_one_message_the_later_counts(database: Database) -> None:
    (message,) = await sent_messages(database, 1)
    writer = ReceiptWriter(database)
    first = writer.record(message, "temporary-failure")
    later = writer.record(message, "delivered")
    assert await asyncio.gather(first, later) == [True, True]
    async with database.pool.acquire() as conn:
        status = await conn.fetchval(
            "SELECT delivery_status FROM notifications WHERE notification_id = $1", message
        )
    assert status == "delivered"


async def test_a_failed_write_answers_each_caller_with_the_fault(database: Database) -> None:
    ours = await sent_messages(database, 3)
    writer = ReceiptWriter(database)
    async with database.pool.acquire() as conn:
        await conn.execute("ALTER TABLE notifications RENAME TO notifications_away")
    try:
        answers = await asyncio.gather(
            *(writer.record(i, "delivered") for i in ours), return_exceptions=True
        )
    finally:
        async with database.pool.acquire() as conn:
            await conn.execute("ALTER TABLE notifications_away RENAME TO notifications")
    assert all(isinstance(a, Exception) for a in answers)
    assert len(answers) == 3


async def test_endings_and_receipts_on_the_same_rows_at_once_never_deadlock(
    database: Database,
) -> None:
    """A batch's endings and a batch of receipts lock the same rows in one order (their ids),
    whatever order each was given them in: otherwise each waits for a row the other holds."""
    owner = uuid.uuid4()
    for _ in range(15):
        ids = [uuid.uuid4() for _ in range(60)]
        async with database.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO notifications (notification_id, decision_event_id, referral_id,"
                " recipient, channel, status, lease_owner, lease_expires_at)"
                " SELECT i, gen_random_uuid(), gen_random_uuid(), 'patient', 'sms', 'sending',"
                " $2, now() + interval '1 minute' FROM unnest($1::uuid[]) AS i",
                ids,
                owner,
            )
        endings = [Ending(i, "sent", provider_id="p") for i in ids]
        receipts = [(i, "delivered") for i in reversed(ids)]

        async def finish(endings: list[Ending]) -> None:
            async with database.pool.acquire() as conn:
                await store.finish(conn, endings, owner=owner)

        async def receive(receipts: list[tuple[uuid.UUID, str]]) -> None:
            async with database.pool.acquire() as conn:
                await store.record_deliveries(conn, receipts)

        await asyncio.gather(*(finish(endings) if n % 2 else receive(receipts) for n in range(6)))
        statuses = await database.pool.fetch(
            "SELECT DISTINCT status FROM notifications WHERE notification_id = ANY($1::uuid[])",
            ids,
        )
        assert [r["status"] for r in statuses] == ["delivered"]
