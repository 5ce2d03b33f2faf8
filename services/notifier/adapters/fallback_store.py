"""`notifier.ports.Fallbacks` over the notifications table: messages past their receipt's
wait, and the fallback rows that follow them (migration 008_fallback.sql)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from notifier.adapters.notification_store import lock_in_order
from notifier.ports import Undelivered
from shared.database import Database

_TRIED = (
    "ARRAY(SELECT t.channel FROM notifications t WHERE t.decision_event_id ="
    " n.decision_event_id AND t.recipient = 'patient' ORDER BY t.created_at) AS tried"
)
_COLUMNS = "n.notification_id, n.referral_id, n.channel, n.told, n.told_topic, n.delivery_status"


def _undelivered(row: Any) -> Undelivered:
    return Undelivered(
        row["notification_id"],
        row["referral_id"],
        row["channel"],
        row["told"],
        row["told_topic"],
        row["delivery_status"],
        tuple(row["tried"]),
    )


class PostgresFallbacks:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def undelivered(self, now: datetime, limit: int) -> list[Undelivered]:
        rows = await self._database.pool.fetch(
            f"SELECT {_COLUMNS}, {_TRIED} FROM notifications n"  # noqa: S608 - constants
            " WHERE n.fell_back_at IS NULL AND n.receipt_due_at <= $1"
            " AND n.status <> 'delivered' ORDER BY n.receipt_due_at LIMIT $2",
            now,
            limit,
        )
        return [_undelivered(r) for r in rows]

    async def fall_back(
        self, followed: Sequence[tuple[Undelivered, str | None, str]], now: datetime
    ) -> list[UUID]:
        async with self._database.pool.acquire() as conn, conn.transaction():
            await lock_in_order(conn, [u.notification_id for u, _, _ in followed])
            taken = await conn.fetch(
                "UPDATE notifications n SET fell_back_at = $2, fallback = f.what"
                " FROM unnest($1::uuid[], $3::text[]) AS f (id, what)"
                " WHERE n.notification_id = f.id AND n.fell_back_at IS NULL"
                " RETURNING n.notification_id",
                [u.notification_id for u, _, _ in followed],
                now,
                [channel or f"none: {why}" for _, channel, why in followed],
            )
            ours = {r["notification_id"] for r in taken}
            onward = [(u, c) for u, c, _ in followed if u.notification_id in ours and c]
            await conn.execute(
                "INSERT INTO notifications (notification_id, decision_event_id, referral_id,"
                " recipient, channel, told, told_topic, fallback_of)"
                " SELECT f.new_id, o.decision_event_id, o.referral_id, 'patient', f.channel,"
                " o.told, o.told_topic, o.notification_id"
                " FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS f (id, new_id, channel)"
                " JOIN notifications o ON o.notification_id = f.id ON CONFLICT DO NOTHING",
                [u.notification_id for u, _ in onward],
                [uuid.uuid4() for _ in onward],
                [c for _, c in onward],
            )
        return [u.notification_id for u, _, _ in followed if u.notification_id in ours]

    async def open_fallbacks(self, limit: int) -> list[Undelivered]:
        rows = await self._database.pool.fetch(
            f"SELECT {_COLUMNS}, {_TRIED} FROM notifications n"  # noqa: S608 - constants
            " WHERE n.fallback_of IS NOT NULL AND (n.status = 'pending' OR (n.status ="
            " 'sending' AND (n.lease_expires_at IS NULL OR n.lease_expires_at < now())))"
            " ORDER BY n.created_at LIMIT $1",
            limit,
        )
        return [_undelivered(r) for r in rows]
