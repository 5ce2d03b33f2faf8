"""Referrals in PostgreSQL: stored with their outbox event in one transaction, read back
scoped to the organisation that made them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from intake.domain.referral import AcceptedReferral
from shared import outbox
from shared.db import Connection


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before for a different request."""


class AlreadyUsed(Exception):
    """The referral id or tracking reference belongs to another referral."""


@dataclass(frozen=True)
class StoredReferral:
    referral_id: UUID
    tracking_reference: str
    service: str
    status: str
    received_at: datetime
    decision: dict[str, Any] | None


async def add(conn: Connection, referral: AcceptedReferral) -> None:
    """Store the referral and queue its `referrals.received` event; call in a transaction."""
    inserted = await conn.fetchval(
        "INSERT INTO referrals (referral_id, tracking_reference, channel, source,"
        " organisation_code, service, submission, correlation_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING true",
        referral.referral_id,
        referral.tracking_reference,
        referral.channel,
        referral.source,
        referral.organisation_code,
        referral.submission.service.value,
        referral.submission.model_dump(mode="json"),
        referral.received.correlation_id,
    )
    if not inserted:
        raise AlreadyUsed("the referral id or tracking reference is already in use")
    await outbox.enqueue(conn, referral.received, key=str(referral.referral_id))


async def find_idempotent(
    conn: Connection, organisation_code: str, key: str, request_sha256: bytes
) -> UUID | None:
    """The referral an earlier identical request made, or None if the key is new."""
    row = await conn.fetchrow(
        "SELECT request_sha256, referral_id FROM idempotency_keys"
        " WHERE organisation_code = $1 AND idempotency_key = $2",
        organisation_code,
        key,
    )
    if row is None:
        return None
    if bytes(row["request_sha256"]) != request_sha256:
        raise IdempotencyConflict("this Idempotency-Key was used for a different request")
    return UUID(str(row["referral_id"]))


async def remember_idempotent(
    conn: Connection, organisation_code: str, key: str, request_sha256: bytes, referral_id: UUID
) -> bool:
    """Record the key; False if a concurrent request recorded it first."""
    return bool(
        await conn.fetchval(
            "INSERT INTO idempotency_keys (organisation_code, idempotency_key, request_sha256,"
            " referral_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING true",
            organisation_code,
            key,
            request_sha256,
            referral_id,
        )
    )


async def get(
    conn: Connection,
    referral_id: UUID,
    *,
    organisation_code: str | None,
    destination: str | None = None,
) -> StoredReferral | None:
    """One referral, if it belongs to `organisation_code` or was routed to the site
    `destination` (both None: any)."""
    row = await conn.fetchrow(
        "SELECT referral_id, tracking_reference, service, status, received_at, decision"
        " FROM referrals WHERE referral_id = $1"
        " AND ($2::text IS NULL OR organisation_code = $2)"
        " AND ($3::text IS NULL OR (status = 'routed' AND decision->'destination'->>'id' = $3))",
        referral_id,
        organisation_code,
        destination,
    )
    return None if row is None else StoredReferral(**dict(row))


async def submission(conn: Connection, referral_id: UUID) -> dict[str, Any] | None:
    value = await conn.fetchval(
        "SELECT submission FROM referrals WHERE referral_id = $1", referral_id
    )
    return value if isinstance(value, dict) else None


async def contacts(conn: Connection, referral_ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
    """What the notifier needs to reach each patient and referrer, and nothing else, in one
    query; unknown ids are simply absent."""
    rows = await conn.fetch(
        "SELECT referral_id, submission FROM referrals WHERE referral_id = ANY($1::uuid[])",
        referral_ids,
    )
    return {row["referral_id"]: _contact_in(row["submission"]) for row in rows}


def _contact_in(submission: dict[str, Any]) -> dict[str, Any]:
    patient, referrer = submission["patient"], submission["referrer"]
    wanted = ("given_name", "email", "mobile", "contact_preferences")
    return {
        **{name: patient.get(name) for name in wanted},
        "message_detail": patient.get("message_detail", "discreet"),
        "referrer_role": referrer["role"],
        "referrer_email": referrer.get("contact_email"),
    }


async def record_decision(
    conn: Connection, referral_id: UUID, outcome: str, decision: dict[str, Any], at: datetime
) -> bool:
    """Keep the latest decision (a triage resolution follows a needs-triage); a redelivered
    or older one changes nothing. False if the referral is not intake's."""
    updated = await conn.fetchval(
        "UPDATE referrals SET status = $2, decision = $3, decided_at = $4"
        " WHERE referral_id = $1 AND (decided_at IS NULL OR decided_at < $4) RETURNING true",
        referral_id,
        outcome,
        decision,
        at,
    )
    return bool(updated)


async def forget(conn: Connection, event_id: UUID) -> None:
    """Undo an inbox entry (its event was not stored after all, and may be replayed)."""
    await conn.execute("DELETE FROM inbox WHERE event_id = $1", event_id)


async def first_time(conn: Connection, event_id: UUID, topic: str) -> bool:
    """Inbox: True the first time an event is handled, False on redelivery."""
    return bool(
        await conn.fetchval(
            "INSERT INTO inbox (event_id, topic) VALUES ($1, $2)"
            " ON CONFLICT DO NOTHING RETURNING true",
            event_id,
            topic,
        )
    )
