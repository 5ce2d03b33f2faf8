"""Referrals in PostgreSQL: stored with their outbox event in one transaction, read back
scoped to the organisation that made them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from intake.adapters import audit_log
from intake.domain.lifecycle import FINAL, State
from intake.domain.referral import AcceptedReferral
from intake.ports import AuditEntry, DueClock, IdempotencyConflict, Located, Standing, Step
from shared import inbox, outbox
from shared.contracts import Event
from shared.database import Connection
from shared.unit_of_work import PostgresTransaction


async def add_many(conn: Connection, referrals: Sequence[AcceptedReferral]) -> list[bool]:
    """`add` for a batch in one statement (and one for their events): whether each was stored.
    One whose id or tracking reference is already used (in the table or earlier in the batch)
    is not."""
    if not referrals:
        return []
    rows = await conn.fetch(
        "INSERT INTO referrals (referral_id, tracking_reference, door, source,"
        " organisation_code, service, submission, correlation_id, received_event_id)"
        " SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],"
        " $6::text[], $7::jsonb[], $8::text[], $9::uuid[])"
        " ON CONFLICT DO NOTHING RETURNING referral_id",
        [r.referral_id for r in referrals],
        [r.tracking_reference for r in referrals],
        [r.door for r in referrals],
        [r.source for r in referrals],
        [r.organisation_code for r in referrals],
        [r.submission.service.value for r in referrals],
        [r.submission.model_dump(mode="json") for r in referrals],
        [r.received.correlation_id for r in referrals],
        [r.received.event_id for r in referrals],
    )
    inserted = {row["referral_id"] for row in rows}
    stored = []
    for referral in referrals:  # the first of a repeated id is the one inserted
        stored.append(referral.referral_id in inserted)
        inserted.discard(referral.referral_id)
    await outbox.enqueue_many(
        conn,
        [
            (r.received, str(r.referral_id), None)
            for r, kept in zip(referrals, stored, strict=True)
            if kept
        ],
    )
    return stored


async def find_idempotent(
    conn: Connection, organisation_code: str, key: str, request_sha256: bytes
) -> UUID | None:
    """The referral an earlier identical request made, or None if the key is new."""
    referral_id = await _earlier(
        conn, "idempotency_keys", "referral_id", organisation_code, key, request_sha256
    )
    return None if referral_id is None else UUID(str(referral_id))


# Where an Idempotency-Key's first answer is kept, and which column holds it.
_KEYED_ANSWERS = {"idempotency_keys": "referral_id", "action_keys": "answer"}


async def _earlier(
    conn: Connection, table: str, column: str, organisation_code: str, key: str, sha256: bytes
) -> Any:
    """The first answer kept under (organisation, key), or None if the key is new; raises
    IdempotencyConflict if the key was used for another request."""
    if _KEYED_ANSWERS.get(table) != column:
        raise ValueError(f"no keyed answers in {table}.{column}")
    row = await conn.fetchrow(
        f"SELECT request_sha256, {column} FROM {table}"  # noqa: S608 - names checked above
        " WHERE organisation_code = $1 AND idempotency_key = $2",
        organisation_code,
        key,
    )
    if row is None:
        return None
    if bytes(row["request_sha256"]) != sha256:
        raise IdempotencyConflict("this Idempotency-Key was used for a different request")
    return row[column]


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


async def submission(conn: Connection, referral_id: UUID) -> dict[str, Any] | None:
    value = await conn.fetchval(
        "SELECT submission FROM referrals WHERE referral_id = $1", referral_id
    )
    return value if isinstance(value, dict) else None


class PostgresReferrals(PostgresTransaction):
    """`intake.ports.Referrals` over this module's statements."""

    async def add_many(self, referrals: Sequence[AcceptedReferral]) -> list[bool]:
        return await add_many(self.conn, referrals)

    async def find_idempotent(
        self, organisation_code: str, key: str, request_sha256: bytes
    ) -> UUID | None:
        return await find_idempotent(self.conn, organisation_code, key, request_sha256)

    async def remember_idempotent(
        self, organisation_code: str, key: str, request_sha256: bytes, referral_id: UUID
    ) -> bool:
        return await remember_idempotent(
            self.conn, organisation_code, key, request_sha256, referral_id
        )

    async def first_times(self, event_ids: Sequence[UUID], topic: str) -> set[UUID]:
        return await inbox.first_times(self.conn, event_ids, topic)

    async def forget(self, event_ids: Sequence[UUID]) -> None:
        await inbox.forget(self.conn, event_ids)

    async def standing(self, referral_ids: Sequence[UUID]) -> dict[UUID, Standing]:
        rows = await self.conn.fetch(
            "SELECT referral_id, tracking_reference, service, status, destination,"
            " organisation_code, received_event_id, decided_at, correlation_id FROM referrals"
            " WHERE referral_id = ANY($1::uuid[]) ORDER BY referral_id FOR UPDATE",
            list(referral_ids),
        )
        return {
            r["referral_id"]: Standing(
                r["referral_id"],
                r["tracking_reference"],
                r["service"],
                State(r["status"]),
                r["destination"],
                r["organisation_code"],
                r["received_event_id"],
                r["decided_at"],
                r["correlation_id"],
            )
            for r in rows
        }

    async def record_steps(self, steps: Sequence[Step]) -> None:
        kept = await self.conn.fetch(
            "INSERT INTO transitions (transition_id, referral_id, action, actor, actor_id,"
            " before, after, reason_code, reason, at, details, person_id)"
            " SELECT * FROM unnest($1::uuid[],"
            " $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],"
            " $8::text[], $9::text[], $10::timestamptz[], $11::jsonb[], $12::text[])"
            " ON CONFLICT (transition_id) DO NOTHING RETURNING transition_id",
            [s.transition_id for s in steps],
            [s.referral_id for s in steps],
            [s.transition.action for s in steps],
            [s.transition.actor for s in steps],
            [s.actor_id for s in steps],
            [s.transition.before.value for s in steps],
            [s.transition.after.value for s in steps],
            [s.reason_code for s in steps],
            [s.reason for s in steps],
            [s.at for s in steps],
            [s.details for s in steps],
            [s.person_id for s in steps],
        )
        new = {row["transition_id"] for row in kept}
        fresh = [s for s in steps if s.transition_id in new]
        # Each statement below takes a wave of steps at once, a referral at most once in a
        # wave: a referral's second step in the batch goes in the next wave, after its first.
        for wave in _waves(fresh):
            await self._move(wave)
            await self._clocks(wave)
        await outbox.enqueue_many(
            self.conn, [(e, str(s.referral_id), None) for s in fresh for e in s.events]
        )

    async def _move(self, steps: Sequence[Step]) -> None:
        """Each referral to its step's new state, in one statement."""
        await self.conn.execute(
            "UPDATE referrals r SET status = s.status,"
            " decision = COALESCE(s.decision, r.decision),"
            " decided_at = COALESCE(s.decided_at, r.decided_at),"
            " destination = CASE WHEN s.decision IS NULL THEN r.destination"
            "                    ELSE s.decision->'destination'->>'id' END,"
            " appointment = CASE WHEN s.sets_appointment THEN s.appointment"
            "                    ELSE r.appointment END,"
            " overdue_since = CASE WHEN s.moved_on THEN NULL ELSE r.overdue_since END,"
            " finished_at = CASE WHEN s.finished THEN s.at ELSE r.finished_at END"
            " FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::timestamptz[],"
            "  $5::boolean[], $6::jsonb[], $7::boolean[], $8::boolean[], $9::timestamptz[])"
            "  AS s (referral_id, status, decision, decided_at, sets_appointment, appointment,"
            "        moved_on, finished, at)"
            " WHERE r.referral_id = s.referral_id",
            [s.referral_id for s in steps],
            [s.transition.after.value for s in steps],
            [s.decision.model_dump(mode="json") if s.decision else None for s in steps],
            [s.decision.decided_at if s.decision else None for s in steps],
            [s.sets_appointment for s in steps],
            [s.appointment for s in steps],
            # it moved on: no longer late
            [s.transition.before != s.transition.after for s in steps],
            [s.transition.after in FINAL for s in steps],
            [s.at for s in steps],
        )

    async def _clocks(self, steps: Sequence[Step]) -> None:
        """Stop the clocks each step's old state ran and its new one does not, then start
        those its new state runs (a restarted reminder: stopped, then started anew)."""
        stops = [(s.referral_id, clock, s.at) for s in steps for clock in s.stops_clocks]
        if stops:
            await self.conn.execute(
                "UPDATE deadlines d SET state = 'stopped', ended_at = s.at"
                " FROM unnest($1::uuid[], $2::text[], $3::timestamptz[])"
                "  AS s (referral_id, clock, at)"
                " WHERE d.referral_id = s.referral_id AND d.clock = s.clock"
                " AND d.state = 'running'",
                *map(list, zip(*stops, strict=True)),
            )
        starts = [(s.referral_id, c) for s in steps for c in s.starts_clocks]
        if starts:
            await self.conn.execute(
                "INSERT INTO deadlines (deadline_id, referral_id, clock, started_at, due_at)"
                " SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[],"
                "  $4::timestamptz[], $5::timestamptz[])"
                " ON CONFLICT (referral_id, clock) WHERE state = 'running' DO NOTHING",
                [uuid4() for _ in starts],
                [referral_id for referral_id, _ in starts],
                [c.clock for _, c in starts],
                [c.started_at for _, c in starts],
                [c.due_at for _, c in starts],
            )

    async def due_clocks(self, now: datetime, limit: int) -> list[DueClock]:
        rows = await self.conn.fetch(
            "SELECT d.deadline_id, d.referral_id, d.clock, d.started_at, d.due_at,"
            " r.tracking_reference, r.service, r.status, r.destination, r.correlation_id,"
            " r.appointment,"
            " (SELECT max(told.ended_at) FROM deadlines told WHERE told.referral_id ="
            "  d.referral_id AND told.told_her) AS her_last_told_at"
            " FROM deadlines d JOIN referrals r USING (referral_id)"
            " WHERE d.state = 'running' AND d.due_at <= $1"
            " ORDER BY d.due_at LIMIT $2 FOR UPDATE OF d SKIP LOCKED",
            now,
            limit,
        )
        return [
            DueClock(
                r["deadline_id"],
                r["referral_id"],
                r["clock"],
                r["started_at"],
                r["due_at"],
                r["tracking_reference"],
                r["service"],
                State(r["status"]),
                r["destination"] if r["status"] != State.NEEDS_TRIAGE.value else None,
                r["correlation_id"],
                r["her_last_told_at"],
                r["appointment"],
            )
            for r in rows
        ]

    async def fire_clocks(self, fired: Sequence[tuple[UUID, bool]], at: datetime) -> None:
        rows = await self.conn.fetch(
            "UPDATE deadlines d SET state = 'fired', ended_at = $3, told_her = f.told"
            " FROM unnest($1::uuid[], $2::boolean[]) AS f (id, told)"
            " WHERE d.deadline_id = f.id RETURNING d.referral_id, d.clock",
            [deadline_id for deadline_id, _ in fired],
            [told for _, told in fired],
            at,
        )
        await self.conn.execute(
            "UPDATE referrals SET overdue_since = COALESCE(overdue_since, $2)"
            " WHERE referral_id = ANY($1)",
            [row["referral_id"] for row in rows if row["clock"] != "reminder"],
            at,
        )

    async def locate(self, reference: str) -> Located | None:
        row = await self.conn.fetchrow(
            "SELECT referral_id, tracking_reference, status, erased_at FROM referrals"
            " WHERE referral_id::text = $1 OR tracking_reference = $1 FOR UPDATE",
            reference,
        )
        if row is None:
            return None
        return Located(
            row["referral_id"], row["tracking_reference"], State(row["status"]), row["erased_at"]
        )

    async def finished_before(self, at: datetime, limit: int) -> list[UUID]:
        rows = await self.conn.fetch(
            "SELECT referral_id FROM referrals WHERE erased_at IS NULL AND finished_at < $1"
            " ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED",
            at,
            limit,
        )
        return [row["referral_id"] for row in rows]

    async def erase_details(self, referral_ids: Sequence[UUID], at: datetime) -> None:
        await self.conn.execute(
            "UPDATE referrals SET submission = NULL, erased_at = $2"
            " WHERE referral_id = ANY($1::uuid[])",
            list(referral_ids),
            at,
        )

    async def audit(self, entries: Sequence[AuditEntry]) -> None:
        await audit_log.record(self.conn, entries)

    async def announce(self, events: Sequence[Event]) -> None:
        keyed = [(e, str(getattr(e, "referral_id", e.event_id)), None) for e in events]
        await outbox.enqueue_many(self.conn, keyed)

    async def replace_submission(self, referral: AcceptedReferral, *, reroute: bool) -> None:
        await self.conn.execute(
            "UPDATE referrals SET submission = $2, service = $3,"
            " received_event_id = CASE WHEN $4 THEN $5 ELSE received_event_id END"
            " WHERE referral_id = $1",
            referral.referral_id,
            referral.submission.model_dump(mode="json"),
            referral.submission.service.value,
            reroute,
            referral.received.event_id,
        )
        if reroute:
            await outbox.enqueue(self.conn, referral.received, key=str(referral.referral_id))

    async def find_action(
        self, organisation_code: str, key: str, request_sha256: bytes
    ) -> dict[str, Any] | None:
        answer: dict[str, Any] | None = await _earlier(
            self.conn, "action_keys", "answer", organisation_code, key, request_sha256
        )
        return answer

    async def remember_action(
        self,
        organisation_code: str,
        key: str,
        request_sha256: bytes,
        referral_id: UUID,
        answer: dict[str, Any],
    ) -> bool:
        return bool(
            await self.conn.fetchval(
                "INSERT INTO action_keys (organisation_code, idempotency_key, request_sha256,"
                " referral_id, answer) VALUES ($1, $2, $3, $4, $5)"
                " ON CONFLICT DO NOTHING RETURNING true",
                organisation_code,
                key,
                request_sha256,
                referral_id,
                answer,
            )
        )

    async def submission_of(self, referral_id: UUID) -> dict[str, Any] | None:
        return await submission(self.conn, referral_id)

    async def self_referral_by_reference(self, tracking_reference: str) -> UUID | None:
        found = await self.conn.fetchval(
            "SELECT referral_id FROM referrals WHERE tracking_reference = $1"
            " AND organisation_code IS NULL",
            tracking_reference,
        )
        return found if isinstance(found, UUID) else None


def _waves(steps: Sequence[Step]) -> list[list[Step]]:
    """The steps in waves, in order, each holding a referral at most once: a set-based
    statement cannot apply two steps of one referral one after the other."""
    waves: list[list[Step]] = []
    seen: dict[UUID, int] = {}
    for step in steps:
        wave = seen.get(step.referral_id, -1) + 1
        seen[step.referral_id] = wave
        if wave == len(waves):
            waves.append([])
        waves[wave].append(step)
    return waves
