"""The audit log: who did what to which referral outside its clinical steps, and why."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import uuid4

from intake.ports import AuditEntry
from shared.database import Connection


async def record(conn: Connection, entries: Sequence[AuditEntry]) -> None:
    await conn.executemany(
        "INSERT INTO audit_log (audit_id, at, actor, action, referral_id, reason, details)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [(uuid4(), e.at, e.actor, e.action, e.referral_id, e.reason, e.details) for e in entries],
    )
