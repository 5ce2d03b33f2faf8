"""Notification rows: created once per (decision, recipient, channel), claimed before a send,
finished with their events in the outbox. Each step takes a whole batch in one statement."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from notifier.ports import Ending, Key, Row
from shared import inbox, outbox
from shared.database import Connection, Database


async def create_claimed(
    conn: Connection, wanted: Sequence[tuple[Key, UUID, bool]], owner: UUID, lease_seconds: float
) -> dict[Key, UUID]:
    """Rows not there yet, created in one statement: those to send leased to `owner` (as
    `claim` leases them: one attempt, the lease started), the others pending. Returns each
    created row's id by key; a row already there (a batch come again) is left alone."""
    if not wanted:
        return {}
    rows = await conn.fetch(
        "INSERT INTO notifications AS n (notification_id, decision_event_id, referral_id,"
        " recipient, channel, status, attempts, claimed_at, lease_owner, lease_expires_at)"
        " SELECT w.id, w.decision, w.referral_id, w.recipient, w.channel,"
        "  CASE WHEN w.send THEN 'sending' ELSE 'pending' END,"
        "  CASE WHEN w.send THEN 1 ELSE 0 END,"
        "  CASE WHEN w.send THEN now() END,"
        "  CASE WHEN w.send THEN $7::uuid END,"
        "  CASE WHEN w.send THEN now() + make_interval(secs => $8) END"
        " FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::boolean[])"
        "  AS w (id, decision, referral_id, recipient, channel, send)"
        " ON CONFLICT DO NOTHING"
        " RETURNING n.notification_id, n.decision_event_id, n.recipient, n.channel",
        [uuid.uuid4() for _ in wanted],
        [key[0] for key, _, _ in wanted],
        [referral_id for _, referral_id, _ in wanted],
        [key[1] for key, _, _ in wanted],
        [key[2] for key, _, _ in wanted],
        [send for _, _, send in wanted],
        owner,
        lease_seconds,
    )
    return {
        (r["decision_event_id"], r["recipient"], r["channel"]): r["notification_id"] for r in rows
    }


async def ensure(conn: Connection, wanted: Sequence[tuple[Key, UUID]]) -> dict[Key, Row]:
    """The row of each (key, referral id), created if new; existing rows keep their state."""
    if not wanted:
        return {}
    decisions = [key[0] for key, _ in wanted]
    recipients = [key[1] for key, _ in wanted]
    channels = [key[2] for key, _ in wanted]
    await conn.execute(
        "INSERT INTO notifications (notification_id, decision_event_id, referral_id, recipient,"
        " channel) SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[],"
        " $5::text[]) ON CONFLICT DO NOTHING",
        [uuid.uuid4() for _ in wanted],
        decisions,
        [referral_id for _, referral_id in wanted],
        recipients,
        channels,
    )
    rows = await conn.fetch(
        "SELECT n.notification_id, n.decision_event_id, n.recipient, n.channel, n.status,"
        " n.attempts FROM notifications n"
        " JOIN unnest($1::uuid[], $2::text[], $3::text[]) AS w (decision, recipient, channel)"
        " ON (n.decision_event_id, n.recipient, n.channel) = (w.decision, w.recipient, w.channel)",
        decisions,
        recipients,
        channels,
    )
    return {
        (r["decision_event_id"], r["recipient"], r["channel"]): Row(
            r["notification_id"], r["status"], r["attempts"]
        )
        for r in rows
    }


async def claim(
    conn: Connection, notification_ids: Sequence[UUID], owner: UUID, lease_seconds: float
) -> dict[UUID, str]:
    """Lease them to `owner` before the provider is called. A row is taken only if it is
    pending, already ours, or its lease has ended (its holder died or stalled): never from a
    live lease. Returns each row taken with the status it had ('sending' means a send may
    have happened: reconcile with the provider before sending again)."""
    rows = await conn.fetch(
        "UPDATE notifications AS n SET status = 'sending', claimed_at = now(),"
        " attempts = n.attempts + 1, lease_owner = $2,"
        " lease_expires_at = now() + make_interval(secs => $3)"
        " FROM (SELECT notification_id, status FROM notifications"
        "       WHERE notification_id = ANY($1::uuid[])"
        "         AND (status = 'pending' OR (status = 'sending'"
        "              AND (lease_owner = $2 OR lease_expires_at IS NULL"
        "                   OR lease_expires_at < now())))"
        "       ORDER BY notification_id FOR UPDATE) AS was"  # one order: see lock_in_order
        " WHERE n.notification_id = was.notification_id"
        " RETURNING n.notification_id, was.status",
        list(notification_ids),
        owner,
        lease_seconds,
    )
    return {r["notification_id"]: r["status"] for r in rows}


async def still_ours(
    conn: Connection, notification_id: UUID, owner: UUID, lease_seconds: float
) -> bool:
    """The fence, just before a provider call: true, and the lease renewed, only if `owner`
    still holds a live lease on the row."""
    return bool(
        await conn.fetchval(
            "UPDATE notifications SET lease_expires_at = now() + make_interval(secs => $3)"
            " WHERE notification_id = $1 AND status = 'sending' AND lease_owner = $2"
            " AND lease_expires_at > now() RETURNING true",
            notification_id,
            owner,
            lease_seconds,
        )
    )


FAILED_RECEIPTS = ("permanent-failure", "temporary-failure", "technical-failure")


async def lock_in_order(conn: Connection, notification_ids: Sequence[UUID]) -> None:
    """Lock these rows in one order, their ids', inside the caller's transaction: a batch's
    endings, a batch of receipts and the fallbacks touch the same rows, and each statement
    alone would lock them in its own order, so two of them could deadlock."""
    await conn.execute(
        "SELECT FROM notifications WHERE notification_id = ANY($1::uuid[])"
        " ORDER BY notification_id FOR UPDATE",
        sorted(set(notification_ids)),
    )


async def finish(
    conn: Connection,
    endings: Sequence[Ending],
    handled: Sequence[tuple[UUID, str]] = (),
    *,
    owner: UUID,
    receipt_wait_seconds: float = 0,
) -> None:
    """Record each ending and queue its events and, in the same transaction, put the decisions
    now fully handled (event id, topic) in the inbox. Fenced: an ending is kept only for a row
    `owner` still leases (or one never claimed, such as an unreachable patient), so a process
    that lost its lease cannot overwrite the row, nor announce its send a second time."""
    async with conn.transaction():
        if endings:
            await lock_in_order(conn, [e.notification_id for e in endings])
            # A receipt may come before the ending is kept: it is not overwritten.
            kept = await conn.fetch(
                "UPDATE notifications AS n SET"
                " status = CASE WHEN e.status = 'sent' AND n.delivery_status = 'delivered'"
                "          THEN 'delivered' ELSE e.status END,"
                " provider_id = e.provider_id, error = e.error, finished_at = now(),"
                " lease_expires_at = NULL, told = COALESCE(e.told::jsonb, n.told),"
                " told_topic = COALESCE(e.told_topic, n.told_topic),"
                " receipt_due_at = CASE WHEN e.told IS NULL THEN n.receipt_due_at"
                "   WHEN n.delivery_status = 'delivered' THEN NULL"
                "   WHEN n.delivery_status = ANY($7::text[]) THEN now()"
                "   ELSE now() + make_interval(secs => $6) END"
                " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $8::text[],"
                "  $9::text[]) AS e (id, status, provider_id, error, told, told_topic)"
                " WHERE n.notification_id = e.id"
                " AND (n.lease_owner = $5 OR (n.lease_owner IS NULL AND n.status = 'pending'))"
                " RETURNING n.notification_id",
                [e.notification_id for e in endings],
                [e.status for e in endings],
                [e.provider_id for e in endings],
                [e.error for e in endings],
                owner,
                receipt_wait_seconds,
                list(FAILED_RECEIPTS),
                [e.awaits_receipt[0] if e.awaits_receipt else None for e in endings],
                [e.awaits_receipt[1] if e.awaits_receipt else None for e in endings],
            )
            ours = {r["notification_id"] for r in kept}
            await outbox.enqueue_many(
                conn, [q for e in endings if e.notification_id in ours for q in e.events]
            )
        if handled:
            await inbox.record(conn, handled)


async def record_deliveries(conn: Connection, receipts: Sequence[tuple[UUID, str]]) -> set[UUID]:
    """Delivery receipts from Notify's callback, in one transaction: delivered, nothing more is
    awaited; failed, the message is due for its fallback at once (`fallback`). Returns the
    references that are ours. Of two receipts for one message, the later counts."""
    last = dict(receipts)  # a later receipt for the same message wins
    async with conn.transaction():
        await lock_in_order(conn, list(last))
        rows = await conn.fetch(
            "UPDATE notifications n SET delivery_status = r.status,"
            " status = CASE WHEN r.status = 'delivered' AND n.status = 'sent' THEN 'delivered'"
            "          ELSE n.status END,"
            " receipt_due_at = CASE WHEN r.status = 'delivered' THEN NULL"
            "   WHEN r.status = ANY($3::text[]) AND n.receipt_due_at IS NOT NULL THEN now()"
            "   ELSE n.receipt_due_at END"
            " FROM unnest($1::uuid[], $2::text[]) AS r(id, status)"
            " WHERE n.notification_id = r.id RETURNING n.notification_id",
            list(last),
            list(last.values()),
            list(FAILED_RECEIPTS),
        )
    return {r["notification_id"] for r in rows}


@dataclass(frozen=True)
class Waiting:
    """How many messages wait in one state: pending, or sending with a live lease or not."""

    status: str
    leased: bool | None
    count: int


async def waiting(conn: Connection) -> list[Waiting]:
    rows = await conn.fetch(
        "SELECT status, lease_expires_at > now() AS leased, count(*) AS n FROM notifications"
        " WHERE status IN ('pending', 'sending') GROUP BY 1, 2 ORDER BY 1, 2"
    )
    return [Waiting(r["status"], r["leased"], r["n"]) for r in rows]


async def reopen_failed(conn: Connection, decision_event_ids: Sequence[UUID]) -> int:
    """Make these events' failed messages pending again and take the events out of the inbox,
    so that each, replayed, is tried again (after the cause of the failure was fixed).
    Messages that were sent stay sent: a replay never sends them twice. Returns how many."""
    async with conn.transaction():
        reopened = await conn.fetch(
            "UPDATE notifications SET status = 'pending', error = NULL"
            " WHERE decision_event_id = ANY($1::uuid[]) AND status = 'failed'"
            " RETURNING notification_id",
            list(decision_event_ids),
        )
        await inbox.forget(conn, list(decision_event_ids))
    return len(reopened)


class PostgresNotifications:
    """`notifier.ports.Notifications` over this module's statements, on the service's pool."""

    def __init__(self, database: Database, receipt_wait_seconds: float = 24 * 3600) -> None:
        self._database = database
        self._receipt_wait_seconds = receipt_wait_seconds

    async def already_handled(self, decision_event_ids: Sequence[UUID]) -> set[UUID]:
        async with self._database.pool.acquire() as conn:
            return await inbox.already_handled(conn, decision_event_ids)

    async def reopen_failed(self, decision_event_ids: Sequence[UUID]) -> int:
        async with self._database.pool.acquire() as conn:
            return await reopen_failed(conn, decision_event_ids)

    async def create_claimed(
        self, wanted: Sequence[tuple[Key, UUID, bool]], owner: UUID, lease_seconds: float
    ) -> dict[Key, UUID]:
        async with self._database.pool.acquire() as conn:
            return await create_claimed(conn, wanted, owner, lease_seconds)

    async def ensure(self, wanted: Sequence[tuple[Key, UUID]]) -> dict[Key, Row]:
        async with self._database.pool.acquire() as conn:
            return await ensure(conn, wanted)

    async def claim(
        self, notification_ids: Sequence[UUID], owner: UUID, lease_seconds: float
    ) -> dict[UUID, str]:
        async with self._database.pool.acquire() as conn:
            return await claim(conn, notification_ids, owner, lease_seconds)

    async def still_ours(self, notification_id: UUID, owner: UUID, lease_seconds: float) -> bool:
        async with self._database.pool.acquire() as conn:
            return await still_ours(conn, notification_id, owner, lease_seconds)

    async def finish(
        self, endings: Sequence[Ending], handled: Sequence[tuple[UUID, str]], *, owner: UUID
    ) -> None:
        async with self._database.pool.acquire() as conn:
            await finish(
                conn, endings, handled, owner=owner, receipt_wait_seconds=self._receipt_wait_seconds
            )
