"""Decisions in PostgreSQL: recorded with their outbox event in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from shared import outbox
from shared.contracts import ReferralDecided, ReferralReceived
from shared.db import Connection


@dataclass(frozen=True)
class PendingTriage:
    referral_id: UUID
    tracking_reference: str
    service: str
    reasons: list[dict[str, str]]
    since: datetime


async def record_many(
    conn: Connection, pairs: list[tuple[ReferralReceived, ReferralDecided]]
) -> None:
    """A batch of referrals and their decisions, with their events queued; in a transaction."""
    await conn.executemany(
        "INSERT INTO referrals (referral_id, tracking_reference, service, received)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (referral_id) DO NOTHING",
        [
            (r.referral_id, r.tracking_reference, r.service.value, r.model_dump(mode="json"))
            for r, _ in pairs
        ],
    )
    await conn.executemany(
        "INSERT INTO decisions (decision_id, referral_id, outcome, destination, reasons,"
        " signposting, urgent, rules_version, decided_by, decided_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        [_decision_row(d) for _, d in pairs],
    )
    await outbox.enqueue_many(conn, [(d, str(d.referral_id), None) for _, d in pairs])


def _decision_row(decision: ReferralDecided) -> tuple[object, ...]:
    return (
        decision.event_id,
        decision.referral_id,
        decision.outcome.value,
        decision.destination.model_dump() if decision.destination else None,
        [r.model_dump() for r in decision.reasons],
        list(decision.signposting),
        decision.urgent,
        decision.rules_version,
        decision.decided_by,
        decision.occurred_at,
    )


async def record(conn: Connection, decision: ReferralDecided) -> None:
    """Keep the decision and queue its event; call inside a transaction."""
    await conn.execute(
        "INSERT INTO decisions (decision_id, referral_id, outcome, destination, reasons,"
        " signposting, urgent, rules_version, decided_by, decided_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        *_decision_row(decision),
    )
    await outbox.enqueue(conn, decision, key=str(decision.referral_id))


async def latest(conn: Connection, referral_id: UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT d.*, r.received FROM decisions d JOIN referrals r USING (referral_id)"
        " WHERE referral_id = $1 ORDER BY decided_at DESC LIMIT 1",
        referral_id,
    )
    return None if row is None else dict(row)


async def pending_triage(conn: Connection) -> list[PendingTriage]:
    rows = await conn.fetch(
        "SELECT DISTINCT ON (referral_id) referral_id, outcome, reasons, decided_at,"
        " r.tracking_reference, r.service"
        " FROM decisions JOIN referrals r USING (referral_id)"
        " ORDER BY referral_id, decided_at DESC"
    )
    return sorted(
        (
            PendingTriage(
                r["referral_id"],
                r["tracking_reference"],
                r["service"],
                r["reasons"],
                r["decided_at"],
            )
            for r in rows
            if r["outcome"] == "needs-triage"
        ),
        key=lambda p: p.since,
    )
