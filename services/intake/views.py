"""Intake's read model (cosmicpython's `views`): every read a door makes, as a typed query in
one place, lock-free (a read never waits on an action). Who may see a referral is one rule,
`Viewer`: the organisation that sent it, or the clinic site that holds it (`HELD`), which
also sees the submission."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from intake.adapters.api_keys import ApiKey
from intake.domain.lifecycle import (
    CLOSED_AT_CLINIC,
    FINAL,
    HELD,
    ActionName,
    State,
    allowed_actions,
)
from intake.domain.proof import Proof, proves
from intake.domain.referral import RecordedDecision
from shared.contracts import Appointment, ReferralState
from shared.database import Connection, Database
from shared.directory import Directory, ExpectedWait


@dataclass(frozen=True)
class Viewer:
    """Who reads: a referrer's organisation, a clinic's site, or the triage team (which
    sees, in full, what awaits it, and nothing else)."""

    organisation_code: str | None = None
    site: str | None = None
    triage: bool = False

    @classmethod
    def referrer(cls, organisation_code: str) -> Viewer:
        return cls(organisation_code=organisation_code)

    @classmethod
    def clinic(cls, site: str) -> Viewer:
        return cls(site=site)

    @classmethod
    def triage_team(cls) -> Viewer:
        return cls(triage=True)

    @classmethod
    def of(cls, key: ApiKey) -> Viewer:
        """A clinic's key sees as its site; any other as its organisation."""
        if key.scope == "clinic":
            return cls.clinic(key.organisation_code)
        return cls.referrer(key.organisation_code)


class HistoryItem(BaseModel):
    """One step of the referral's life: what, by whom, when and why."""

    action: str = Field(
        description="decided, accepted, returned, cancelled, amended, booked, "
        "appointment-cancelled, attended, did-not-attend, not-contactable or discharged."
    )
    by: str = Field(description="router, clinic, referrer or patient.")
    by_id: str | None = Field(description="The site, the organisation, or who triaged it.")
    by_person: str | None = Field(
        default=None,
        description="The member of staff who took the step, by name, when one did (signed in "
        "as herself); null for a step by a system's key or by the woman.",
    )
    before: str
    after: str
    reason_code: str | None
    reason: str | None
    details: dict[str, Any] | None = Field(
        default=None,
        description="A step's particulars: the appointment booked, the attempts to reach "
        "her, the service she was referred on to.",
    )
    at: datetime


class ReferralStatus(BaseModel):
    """A referral as its viewer may see it."""

    referral_id: UUID
    tracking_reference: str
    service: str
    status: ReferralState
    received_at: datetime
    decision: RecordedDecision | None
    history: list[HistoryItem] = Field(description="Every step since it was received, in order.")
    appointment: Appointment | None = Field(
        default=None, description="Her appointment, while one is booked (or was missed)."
    )
    actions: list[ActionName] = Field(
        description="What the caller may do now, by the name of the action's path "
        "(`POST /v1/referrals/{id}/<action>`; `amend` is the PUT): nothing else is allowed."
    )
    submission: dict[str, Any] | None = Field(
        default=None, description="The submission as received: for the clinic that holds it."
    )
    details_erased_at: datetime | None = Field(
        default=None,
        description="When its patient details were erased (a set time after it finished, or "
        "on request); what happened to it is still shown.",
    )

    @property
    def held_by(self) -> str | None:
        """The site that holds it now, if one does."""
        destination = self.decision.destination if self.decision else None
        return destination.id if destination and self.status in HELD else None


async def referral(
    database: Database,
    referral_id: UUID,
    viewer: Viewer,
    directory: Directory,
    *,
    with_submission: bool = False,
) -> ReferralStatus | None:
    """The referral, if `viewer` may see it (someone else's looks exactly like none), with
    what the viewer may do now; its submission when asked for (the clinic's view; a
    referrer's door may need one field)."""
    row = await database.pool.fetchrow(
        "SELECT referral_id, tracking_reference, service, status, received_at, decision,"
        " destination, appointment, submission, erased_at FROM referrals WHERE referral_id = $1"
        " AND ($2::text IS NULL OR organisation_code = $2)"
        " AND ($3::text IS NULL OR (status = ANY($4::text[]) AND destination = $3))"
        " AND (NOT $5::boolean OR status = $6)",
        referral_id,
        viewer.organisation_code,
        viewer.site,
        [s.value for s in (*HELD, *CLOSED_AT_CLINIC)],
        viewer.triage,
        State.NEEDS_TRIAGE.value,
    )
    if row is None:
        return None
    decision = row["decision"]
    state = ReferralState(row["status"])
    if viewer.site is not None:
        policy = directory.journey_for(row["service"], row["destination"])
        actions = allowed_actions(
            state,
            "clinic",
            site=viewer.site,
            destination=row["destination"],
            after_missed=policy.after_missed_appointment.value,
        )
    elif viewer.triage:
        actions = ["resolve"]  # all it sees awaits it
    else:
        actions = allowed_actions(state, "referrer")
    return ReferralStatus(
        referral_id=row["referral_id"],
        tracking_reference=row["tracking_reference"],
        service=row["service"],
        status=state,
        received_at=row["received_at"],
        # decisions kept before the service was recorded with them lack it
        decision=RecordedDecision.model_validate({"service": row["service"], **decision})
        if decision
        else None,
        history=await _history(database, referral_id),
        appointment=row["appointment"],
        actions=actions,
        submission=row["submission"] if with_submission else None,
        details_erased_at=row["erased_at"],
    )


async def _history(database: Database, referral_id: UUID) -> list[HistoryItem]:
    rows = await database.pool.fetch(
        "SELECT t.action, t.actor AS by, t.actor_id AS by_id, s.name AS by_person, t.before,"
        " t.after, t.reason_code, t.reason, t.details, t.at FROM transitions t"
        " LEFT JOIN staff s ON s.person_id = COALESCE(t.person_id,"
        "  CASE WHEN t.action = 'decided' THEN t.actor_id END)"
        " WHERE t.referral_id = $1 ORDER BY t.at, t.transition_id",
        referral_id,
    )
    return [HistoryItem(**dict(r)) for r in rows]


class WorklistItem(BaseModel):
    referral_id: UUID
    tracking_reference: str
    service: str
    status: ReferralState
    urgent: bool
    overdue: bool = Field(description="A promise of its service was broken and it waits still.")
    received_at: datetime
    decided_at: datetime | None


class Worklist(BaseModel):
    referrals: list[WorklistItem]
    next: str | None = Field(description="Pass as `after` for the next page; null at the end.")


Cursor = tuple[int, datetime, UUID]  # (rank, received at, id) of a page's last item


def parse_cursor(after: str | None) -> Cursor | None:
    """A worklist cursor, `<rank 0-3>_<received_at ISO>_<referral id>` of the page's last
    item; raises ValueError for anything else, and for a time PostgreSQL cannot hold."""
    if after is None:
        return None
    rank, _, rest = after.partition("_")
    if rank not in ("0", "1", "2", "3"):
        raise ValueError("a cursor starts with its rank")
    when, _, referral_id = rest.rpartition("_")
    received = datetime.fromisoformat(when)
    if received.tzinfo is None:
        raise ValueError("a cursor's time has its offset")
    try:  # PostgreSQL takes the instant in UTC; years 1 and 9999 may fall outside it
        return int(rank), received.astimezone(UTC), UUID(referral_id)
    except OverflowError as error:
        raise ValueError("a cursor's time is out of range") from error


def _cursor_of(item: WorklistItem) -> str:
    rank = (0 if item.overdue else 2) + (0 if item.urgent else 1)
    return f"{rank}_{item.received_at.isoformat()}_{item.referral_id}"


async def worklist(
    database: Database,
    viewer: Viewer,
    state: State | None,
    limit: int,
    after: Cursor | None,
    *,
    received_from: datetime | None = None,
    received_before: datetime | None = None,
) -> Worklist:
    """A clinic's referrals (or a referring organisation's, or those awaiting triage), in one
    state or any, received in a window: overdue first (a promise broken), then urgent, then
    oldest, a page at a time (keyset: the cursor is the last item's rank, received time and
    id)."""
    rows = await database.pool.fetch(
        "SELECT referral_id, tracking_reference, service, status, received_at, decided_at,"
        " urgent, overdue_since IS NOT NULL AS overdue, rank FROM (SELECT *,"
        " COALESCE((decision->>'urgent')::boolean, false) AS urgent,"
        # 0 overdue and urgent, 1 overdue, 2 urgent, 3 neither
        " (CASE WHEN overdue_since IS NULL THEN 2 ELSE 0 END + CASE WHEN"
        "  COALESCE((decision->>'urgent')::boolean, false) THEN 0 ELSE 1 END) AS rank"
        " FROM referrals WHERE ($1::text IS NULL OR destination = $1)"
        " AND ($2::text IS NULL OR organisation_code = $2)"
        " AND ($3::text IS NULL OR status = $3)"
        " AND ($4::timestamptz IS NULL OR received_at >= $4)"
        " AND ($5::timestamptz IS NULL OR received_at < $5)) AS listed"
        " WHERE ($6::int IS NULL OR (rank, received_at, referral_id)"
        "       > ($6, $7::timestamptz, $8::uuid))"
        " ORDER BY rank, received_at, referral_id LIMIT $9",
        viewer.site,
        viewer.organisation_code,
        state.value if state else None,
        received_from,
        received_before,
        after[0] if after else None,
        after[1] if after else None,
        after[2] if after else None,
        limit + 1,
    )
    page = [WorklistItem(**{k: v for k, v in r.items() if k != "rank"}) for r in rows[:limit]]
    following = _cursor_of(page[-1]) if len(rows) > limit else None
    return Worklist(referrals=page, next=following)


class OverdueReferral(BaseModel):
    """A referral a broken promise made overdue, still waiting: for operations."""

    tracking_reference: str
    service: str
    site: str | None
    status: ReferralState
    clocks: list[str] = Field(description="The promises broken while it waited here.")
    overdue_since: datetime


async def overdue(conn: Connection) -> list[OverdueReferral]:
    """Every referral overdue now, the longest overdue first (`referrals overdue`)."""
    rows = await conn.fetch(
        "SELECT r.tracking_reference, r.service, r.destination AS site, r.status,"
        " r.overdue_since, array_agg(d.clock ORDER BY d.due_at) AS clocks"
        " FROM referrals r JOIN deadlines d ON d.referral_id = r.referral_id"
        "  AND d.state = 'fired' AND d.clock <> 'reminder' AND d.ended_at >= r.overdue_since"
        " WHERE r.overdue_since IS NOT NULL"
        " GROUP BY r.referral_id ORDER BY r.overdue_since, r.referral_id"
    )
    return [OverdueReferral(**dict(r)) for r in rows]


class HerReferral(BaseModel):
    """Her referral as she may see it once she proved who she is: where it stands, with
    whom, her appointment, the wait at her site, and whether she may cancel it here."""

    tracking_reference: str
    service_name: str
    status: ReferralState
    site_name: str | None
    appointment: Appointment | None
    expected_wait: ExpectedWait | None = Field(description="While she waits to be seen.")
    contact: str
    may_cancel: bool


_WAITING = (State.RECEIVED, State.NEEDS_TRIAGE, State.ROUTED, State.ACCEPTED)


async def her_referral(
    database: Database, directory: Directory, proof: Proof
) -> HerReferral | None:
    """The referral her proof opens, or None: no such reference and a wrong date of birth or
    postcode look exactly alike (and cost the same: one query, both parts compared)."""
    row = await database.pool.fetchrow(
        "SELECT tracking_reference, service, status, decision, destination, appointment,"
        " organisation_code, submission FROM referrals WHERE tracking_reference = $1",
        proof.tracking_reference,
    )
    if not proves(proof, row["submission"] if row else None):
        return None
    assert row is not None
    state = State(row["status"])
    destination = (row["decision"] or {}).get("destination") or {}
    journey = directory.journey_for(row["service"], row["destination"])
    return HerReferral(
        tracking_reference=row["tracking_reference"],
        service_name=directory.services[row["service"]].name,
        status=state,
        site_name=destination.get("name") if state in (*HELD, *CLOSED_AT_CLINIC) else None,
        appointment=row["appointment"] if state in (State.BOOKED, State.DID_NOT_ATTEND) else None,
        expected_wait=journey.expected_wait if state in _WAITING else None,
        contact=journey.contact,
        may_cancel=row["organisation_code"] is None and state not in FINAL,
    )


async def contacts(database: Database, referral_ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
    """What the notifier needs to reach each patient and referrer, and nothing else, in one
    query: only these fields leave the database, never the rest of her submission (her NHS
    number, date of birth, clinical details). Unknown ids are simply absent."""
    rows = await database.pool.fetch(
        "SELECT r.referral_id, r.status, r.organisation_code, e.url AS referrer_endpoint,"
        " r.submission IS NOT NULL AS kept,"
        " p->>'given_name' AS given_name, p->>'family_name' AS family_name,"
        " p->>'email' AS email, p->>'mobile' AS mobile,"
        " p->'contact_preferences' AS contact_preferences,"
        " p->'address'->'lines' AS address_lines, p->>'postcode' AS postcode,"
        " COALESCE(p->>'message_detail', 'discreet') AS message_detail,"
        " r.submission->'referrer'->>'role' AS referrer_role,"
        " r.submission->'referrer'->>'contact_email' AS referrer_email"
        " FROM referrals r CROSS JOIN LATERAL (SELECT r.submission->'patient' AS p) patient"
        " LEFT JOIN bars_endpoints e"  # a BaRS sender hears back in BaRS
        " ON r.door = 'bars' AND e.organisation_code = r.organisation_code"
        " WHERE r.referral_id = ANY($1::uuid[])",
        referral_ids,
    )
    return {
        row["referral_id"]: {
            **(
                _contact_in(row)
                if row["kept"]
                else _nobody(self_referral=row["organisation_code"] is None)
            ),
            "status": row["status"],
            "referrer_endpoint": row["referrer_endpoint"],
        }
        for row in rows
    }


def _nobody(*, self_referral: bool) -> dict[str, Any]:
    """An erased referral's contact: nobody can be reached (its messages are recorded as
    failed, with why); a professional referral's system still hears by BaRS."""
    return {
        "given_name": "",
        "email": None,
        "mobile": None,
        "contact_preferences": (),
        "address": None,
        "referrer_role": "self" if self_referral else "other-professional",
        "referrer_email": None,
    }


def _contact_in(row: Any) -> dict[str, Any]:
    lines = row["address_lines"]
    return {
        "given_name": row["given_name"],
        "email": row["email"],
        "mobile": row["mobile"],
        "contact_preferences": row["contact_preferences"],
        # A letter's address block: her name, her address lines, her postcode last.
        "address": (
            [f"{row['given_name']} {row['family_name']}", *lines, row["postcode"]]
            if lines
            else None
        ),
        "message_detail": row["message_detail"],
        "referrer_role": row["referrer_role"],
        "referrer_email": row["referrer_email"],
    }


class AuditedAction(BaseModel):
    """One line of the audit trail: who did what to which referral, when and why."""

    at: datetime
    actor: str = Field(description="The person's id at the identity provider, or the operator.")
    actor_name: str | None
    action: str
    tracking_reference: str | None
    reason: str


async def audit_trail(conn: Connection, reference: str | None = None) -> list[AuditedAction]:
    """The audit trail, oldest first; one referral's (by id or tracking reference) if named."""
    rows = await conn.fetch(
        "SELECT a.at, a.actor, a.actor_name, a.action, r.tracking_reference, a.reason"
        " FROM audit_trail a LEFT JOIN referrals r USING (referral_id)"
        " WHERE $1::text IS NULL OR r.tracking_reference = $1 OR r.referral_id::text = $1"
        " ORDER BY a.at",
        reference,
    )
    return [AuditedAction(**dict(r)) for r in rows]
