"""Notification rows: created once per (decision, recipient, channel), claimed before a send,
finished with their event in the outbox (one transaction)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from uuid import UUID

from shared import outbox
from shared.contracts import Event
from shared.db import Connection
from shared.topics import Topic


@dataclass(frozen=True)
class Row:
    notification_id: UUID
    status: str
    attempts: int


async def ensure(
    conn: Connection, decision_event_id: UUID, referral_id: UUID, recipient: str, channel: str
) -> Row:
    await conn.execute(
        "INSERT INTO notifications (notification_id, decision_event_id, referral_id, recipient,"
        " channel) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        uuid.uuid4(),
        decision_event_id,
        referral_id,
        recipient,
        channel,
    )
    row = await conn.fetchrow(
        "SELECT notification_id, status, attempts FROM notifications"
        " WHERE decision_event_id = $1 AND recipient = $2 AND channel = $3",
        decision_event_id,
        recipient,
        channel,
    )
    assert row is not None
    return Row(row["notification_id"], row["status"], row["attempts"])


async def claim(conn: Connection, notification_id: UUID) -> None:
    """Mark it being sent before the provider is called: after a crash, a row left 'sending'
    is reconciled with the provider before anything is sent again."""
    await conn.execute(
        "UPDATE notifications SET status = 'sending', claimed_at = now(),"
        " attempts = attempts + 1 WHERE notification_id = $1",
        notification_id,
    )


async def finish(
    conn: Connection,
    notification_id: UUID,
    *,
    status: str,
    provider_id: str | None = None,
    error: str | None = None,
    events: tuple[tuple[Event, str, Topic | None], ...] = (),
) -> None:
    """Record the end (sent or failed) and queue its events, in one transaction."""
    async with conn.transaction():
        await conn.execute(
            "UPDATE notifications SET status = $2, provider_id = $3, error = $4,"
            " finished_at = now() WHERE notification_id = $1",
            notification_id,
            status,
            provider_id,
            error,
        )
        for event, key, topic in events:
            await outbox.enqueue(conn, event, key=key, topic=topic)


async def record_delivery(conn: Connection, reference: UUID, delivery_status: str) -> bool:
    """A delivery receipt from Notify's callback."""
    return bool(
        await conn.fetchval(
            "UPDATE notifications SET delivery_status = $2,"
            " status = CASE WHEN $2 = 'delivered' THEN 'delivered' ELSE status END"
            " WHERE notification_id = $1 RETURNING true",
            reference,
            delivery_status,
        )
    )
