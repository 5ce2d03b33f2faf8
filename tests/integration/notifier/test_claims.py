"""Claims on the real PostgreSQL: a new message's row is created already leased to the
process that planned it (one attempt, a live lease); a message planned twice in a batch is
one row and one task; a batch come again to another process finds the rows leased and leaves
them; the process that holds them takes them again, to reconcile before sending; messages
already there and new ones together come back in the order planned."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from notifier.adapters.notification_store import PostgresNotifications
from notifier.domain.plan import Message
from notifier.main import MIGRATIONS
from notifier.ports import Row
from notifier.service_layer.claims import HeldElsewhere, Leases
from notifier.service_layer.work import Incoming
from shared.database import Database
from tests.support.databases import opened
from tests.support.servers import Servers
from tests.unit.notifier.test_service_layer import ROUTED, routed

LEASE = 30.0
SMS = Message("patient", "sms", "07700900123", None, "Hello")
WEBHOOK = Message("clinic", "webhook", "", None, "")


@pytest.fixture
async def database(servers: Servers, db_schema: str) -> AsyncIterator[Database]:
    async with opened(servers, db_schema, MIGRATIONS) as database:
        yield database


def leases(database: Database) -> Leases:
    return Leases(PostgresNotifications(database), uuid.uuid4(), LEASE)


async def test_a_new_message_is_created_leased_and_a_second_process_leaves_it(
    database: Database,
) -> None:
    mine, theirs = leases(database), leases(database)
    told = Incoming(routed(), ROUTED)
    tasks = await mine.claim([(told, SMS, None), (told, WEBHOOK, None), (told, SMS, None)])
    assert [(t.message.channel, t.row.status) for t in tasks] == [
        ("sms", "pending"),
        ("webhook", "pending"),
    ]
    rows = await database.pool.fetch(
        "SELECT status, attempts, lease_owner, lease_expires_at > now() AS live,"
        " claimed_at IS NOT NULL AS claimed FROM notifications"
    )
    assert [tuple(r) for r in rows] == [("sending", 1, mine.owner, True, True)] * 2

    with pytest.raises(HeldElsewhere):
        await theirs.claim([(told, SMS, None)])  # the batch, come again elsewhere
    (again,) = await mine.claim([(told, SMS, None)])  # come again here: ours, reconciled first
    assert again.row == Row(tasks[0].row.notification_id, "sending", 1)


async def test_messages_there_already_and_new_ones_come_back_in_the_order_planned(
    database: Database,
) -> None:
    mine = leases(database)
    first, second = Incoming(routed(), ROUTED), Incoming(routed(), ROUTED)
    unreachable = "no mobile number or email address"
    (kept,) = await mine.claim([(first, SMS, unreachable)])  # created pending, not leased
    tasks = await mine.claim([(first, SMS, unreachable), (second, SMS, None)])
    assert [(t.incoming, t.row.status, t.unreachable) for t in tasks] == [
        (first, "pending", unreachable),
        (second, "pending", None),
    ]
    assert tasks[0].row.notification_id == kept.row.notification_id
    statuses = await database.pool.fetch(
        "SELECT status, lease_owner IS NULL AS free FROM notifications ORDER BY attempts"
    )
    assert [tuple(r) for r in statuses] == [("pending", True), ("sending", False)]
