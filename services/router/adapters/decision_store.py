"""The router's state in PostgreSQL (`router.ports.Decisions`): decisions recorded with their
outbox events and inbox entries in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from pydantic_core import to_json

from router.ports import Latest, PendingTriage
from shared import inbox, outbox
from shared.contracts import Outcome, Reason, ReferralDecided, ReferralReceived, ReferralReturned
from shared.database import Connection
from shared.unit_of_work import PostgresTransaction


class PostgresDecisions(PostgresTransaction):
    async def first_times(self, event_ids: Sequence[UUID], topic: str) -> set[UUID]:
        return await inbox.first_times(self.conn, event_ids, topic)

    async def record_many(self, pairs: Sequence[tuple[ReferralReceived, ReferralDecided]]) -> None:
        # One statement each for the batch. A referral received twice in one batch (an
        # amendment) is kept as its last received, as one statement per event would leave it.
        last = {r.referral_id: r for r, _ in pairs}
        await self.conn.execute(
            "INSERT INTO referrals (referral_id, tracking_reference, service, received)"
            " SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[])"
            " ON CONFLICT (referral_id) DO UPDATE"  # an amendment
            " SET service = EXCLUDED.service, received = EXCLUDED.received",
            list(last),
            [r.tracking_reference for r in last.values()],
            [r.service.value for r in last.values()],
            [r.model_dump(mode="json") for r in last.values()],
        )
        await _insert_decisions(self.conn, [d for _, d in pairs])
        await outbox.enqueue_many(self.conn, [(d, str(d.referral_id), None) for _, d in pairs])

    async def lock_latest(self, referral_id: UUID) -> Latest | None:
        await self.conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", str(referral_id))
        row = await self.conn.fetchrow(
            "SELECT d.outcome, d.urgent, r.received FROM decisions d"
            " JOIN referrals r USING (referral_id)"
            " WHERE referral_id = $1 ORDER BY decided_at DESC LIMIT 1",
            referral_id,
        )
        if row is None:
            return None
        return Latest(
            Outcome(row["outcome"]), row["urgent"], ReferralReceived.model_validate(row["received"])
        )

    async def record(self, decision: ReferralDecided) -> None:
        await _insert_decisions(self.conn, [decision])
        await outbox.enqueue(self.conn, decision, key=str(decision.referral_id))

    async def pending_triage(self) -> list[PendingTriage]:
        rows = await self.conn.fetch(
            "SELECT DISTINCT ON (referral_id) referral_id, outcome, reasons, decided_at,"
            " r.tracking_reference, r.service"
            " FROM decisions JOIN referrals r USING (referral_id)"
            " WHERE NOT EXISTS (SELECT 1 FROM closed c WHERE c.referral_id = r.referral_id)"
            " ORDER BY referral_id, decided_at DESC"
        )
        return sorted(
            (
                PendingTriage(
                    r["referral_id"],
                    r["tracking_reference"],
                    r["service"],
                    tuple(Reason.model_validate(reason) for reason in r["reasons"]),
                    r["decided_at"],
                )
                for r in rows
                if r["outcome"] == Outcome.NEEDS_TRIAGE.value
            ),
            key=lambda p: p.since,
        )

    async def keep_return(self, returned: ReferralReturned) -> None:
        await self.conn.execute(
            "INSERT INTO decisions (decision_id, referral_id, outcome, destination, reasons,"
            " signposting, urgent, rules_version, decided_by, decided_at)"
            " SELECT $1, $2, 'needs-triage', NULL, $3, '[]'::jsonb, d.urgent, d.rules_version,"
            " $4, $5 FROM decisions d WHERE d.referral_id = $2"
            " ORDER BY d.decided_at DESC LIMIT 1 ON CONFLICT (decision_id) DO NOTHING",
            returned.event_id,
            returned.referral_id,
            [
                Reason(
                    rule=f"clinic.returned.{returned.reason_code}", message=returned.reason
                ).model_dump()
            ],
            f"clinic {returned.site}",
            returned.occurred_at,
        )

    async def close(self, referral_id: UUID, why: str) -> None:
        await self.conn.execute(
            "INSERT INTO closed (referral_id, why) SELECT $1, $2 WHERE EXISTS"
            " (SELECT 1 FROM referrals WHERE referral_id = $1) ON CONFLICT DO NOTHING",
            referral_id,
            why,
        )

    async def is_closed(self, referral_id: UUID) -> bool:
        return bool(
            await self.conn.fetchval("SELECT true FROM closed WHERE referral_id = $1", referral_id)
        )


async def _insert_decisions(conn: Connection, decisions: Sequence[ReferralDecided]) -> None:
    """The decisions in one statement; their JSON columns go in as pydantic's own JSON text
    (a list inside an array parameter would read as another dimension of the array)."""
    await conn.execute(
        "INSERT INTO decisions (decision_id, referral_id, outcome, destination, reasons,"
        " signposting, urgent, rules_version, decided_by, decided_at)"
        " SELECT d.id, d.referral_id, d.outcome, d.destination::jsonb, d.reasons::jsonb,"
        "  d.signposting::jsonb, d.urgent, d.rules_version, d.decided_by, d.decided_at"
        " FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[],"
        "  $7::boolean[], $8::text[], $9::text[], $10::timestamptz[])"
        "  AS d (id, referral_id, outcome, destination, reasons, signposting, urgent,"
        "        rules_version, decided_by, decided_at)",
        [d.event_id for d in decisions],
        [d.referral_id for d in decisions],
        [d.outcome.value for d in decisions],
        [d.destination.model_dump_json() if d.destination else None for d in decisions],
        [to_json(d.reasons).decode() for d in decisions],
        [to_json(d.signposting).decode() for d in decisions],
        [d.urgent for d in decisions],
        [d.rules_version for d in decisions],
        [d.decided_by for d in decisions],
        [d.occurred_at for d in decisions],
    )
