"""In-memory fakes of the services' ports, for unit tests that need no server: each keeps
its state in plain collections and honours the port's transaction (all or nothing)."""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar
from uuid import UUID, uuid5

from intake.domain.lifecycle import FINAL
from intake.domain.referral import AcceptedReferral
from intake.ports import AuditEntry, DueClock, IdempotencyConflict, Located, Standing, Step
from intake.views import HistoryItem
from notifier.domain.plan import Message
from notifier.ports import Ending, Key, Row
from router.ports import Latest, PendingTriage
from shared.contracts import (
    Event,
    Outcome,
    PatientContact,
    ReferralDecided,
    ReferralReceived,
    ReferralReturned,
    ReferralState,
)

T = TypeVar("T")


class InMemoryTransaction:
    """A transaction over a dataclass of plain collections: entering takes a snapshot, an
    exception puts it back. The state has an `inbox` (event id to topic), as every service's
    has."""

    state: Any

    async def __aenter__(self) -> Self:
        self._before = copy.deepcopy(self.state)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.state.__dict__.update(self._before.__dict__)  # roll back

    async def first_times(self, event_ids: Sequence[UUID], topic: str) -> set[UUID]:
        new = {event_id for event_id in event_ids if event_id not in self.state.inbox}
        self.state.inbox.update(dict.fromkeys(new, topic))
        return new


def _earlier(
    kept: dict[tuple[str, str], tuple[bytes, T]], org: str, key: str, sha: bytes
) -> T | None:
    """The first answer kept under an Idempotency-Key, as the PostgreSQL adapter finds it."""
    found = kept.get((org, key))
    if found is None:
        return None
    if found[0] != sha:
        raise IdempotencyConflict("this Idempotency-Key was used for a different request")
    return found[1]


@dataclass
class RouterState:
    """What the router keeps: the inbox, each referral's event, its decisions, the outbox."""

    inbox: dict[UUID, str] = field(default_factory=dict)
    received: dict[UUID, ReferralReceived] = field(default_factory=dict)
    decisions: list[ReferralDecided] = field(default_factory=list)
    outbox: list[ReferralDecided] = field(default_factory=list)
    closed: set[UUID] = field(default_factory=set)


class InMemoryDecisions(InMemoryTransaction):
    """`router.ports.Decisions` over a `RouterState`; a transaction that raises leaves the
    state as it was. `fails` gives the error recording a decision raises (a store that
    breaks on it), or None."""

    def __init__(
        self,
        state: RouterState,
        fails: Callable[[ReferralDecided], BaseException | None] = lambda _decision: None,
    ) -> None:
        self.state = state
        self.fails = fails

    async def record_many(self, pairs: Sequence[tuple[ReferralReceived, ReferralDecided]]) -> None:
        for received, decision in pairs:
            self.state.received[received.referral_id] = received  # an amendment replaces it
            await self.record(decision)

    async def lock_latest(self, referral_id: UUID) -> Latest | None:
        mine = [d for d in self.state.decisions if d.referral_id == referral_id]
        if not mine:
            return None
        latest = max(mine, key=lambda d: d.occurred_at)
        return Latest(latest.outcome, latest.urgent, self.state.received[referral_id])

    async def record(self, decision: ReferralDecided) -> None:
        if (error := self.fails(decision)) is not None:
            raise error
        self.state.decisions.append(decision)
        self.state.outbox.append(decision)

    async def pending_triage(self) -> list[PendingTriage]:
        latest: dict[UUID, ReferralDecided] = {}
        for decision in sorted(self.state.decisions, key=lambda d: d.occurred_at):
            latest[decision.referral_id] = decision
        return [
            PendingTriage(
                d.referral_id, d.tracking_reference, d.service.value, d.reasons, d.occurred_at
            )
            for d in latest.values()
            if d.outcome == Outcome.NEEDS_TRIAGE and d.referral_id not in self.state.closed
        ]

    async def keep_return(self, returned: ReferralReturned) -> None:
        latest = max(
            (d for d in self.state.decisions if d.referral_id == returned.referral_id),
            key=lambda d: d.occurred_at,
        )
        again = ReferralDecided.model_validate(
            latest.model_dump()
            | {
                "event_id": returned.event_id,
                "occurred_at": returned.occurred_at,
                "outcome": Outcome.NEEDS_TRIAGE,
                "destination": None,
                "reasons": [
                    {"rule": f"clinic.returned.{returned.reason_code}", "message": returned.reason}
                ],
                "decided_by": f"clinic {returned.site}",
            }
        )
        self.state.decisions.append(again)  # kept, not announced (intake announced it)

    async def close(self, referral_id: UUID, why: str) -> None:
        if referral_id in self.state.received:  # as PostgreSQL: only a referral it knows
            self.state.closed.add(referral_id)

    async def is_closed(self, referral_id: UUID) -> bool:
        return referral_id in self.state.closed


@dataclass
class IntakeState:
    """What intake keeps: referrals (by id), idempotency keys, the inbox, the outbox."""

    referrals: dict[UUID, AcceptedReferral] = field(default_factory=dict)
    standing: dict[UUID, Standing] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], tuple[bytes, UUID]] = field(default_factory=dict)
    inbox: dict[UUID, str] = field(default_factory=dict)
    outbox: list[Event] = field(default_factory=list)
    steps: dict[UUID, Step] = field(default_factory=dict)
    actions: dict[tuple[str, str], tuple[bytes, dict[str, Any]]] = field(default_factory=dict)
    appointments: dict[UUID, dict[str, Any] | None] = field(default_factory=dict)
    # (referral, clock) -> [started, due, state]; a fired or stopped clock leaves the dict
    clocks: dict[tuple[UUID, str], tuple[datetime, datetime]] = field(default_factory=dict)
    fired: list[tuple[UUID, str]] = field(default_factory=list)
    told_her: dict[UUID, datetime] = field(default_factory=dict)  # the last breach told her
    overdue_since: dict[UUID, datetime] = field(default_factory=dict)
    finished_at: dict[UUID, datetime] = field(default_factory=dict)
    erased_at: dict[UUID, datetime] = field(default_factory=dict)
    audit_log: list[AuditEntry] = field(default_factory=list)

    def history(self, referral_id: UUID) -> list[HistoryItem]:
        """The referral's steps as `intake.views` shows them (a read, outside the port)."""
        return [
            HistoryItem(
                action=s.transition.action,
                by=s.transition.actor,
                by_id=s.actor_id,
                before=s.transition.before.value,
                after=s.transition.after.value,
                reason_code=s.reason_code,
                reason=s.reason,
                details=s.details,
                at=s.at,
            )
            for s in sorted(self.steps.values(), key=lambda s: s.at)
            if s.referral_id == referral_id
        ]


class InMemoryReferrals(InMemoryTransaction):
    """`intake.ports.Referrals` over an `IntakeState`; a transaction that raises leaves the
    state as it was. `before_remember` runs just before a key is recorded, as another
    transaction that commits first (a concurrent request): a rollback here keeps its work."""

    def __init__(
        self,
        state: IntakeState,
        before_remember: Callable[[IntakeState], None] = lambda _state: None,
    ) -> None:
        self.state = state
        self.before_remember = before_remember

    async def add_many(self, referrals: Sequence[AcceptedReferral]) -> list[bool]:
        kept = []
        for referral in referrals:
            references = {r.tracking_reference for r in self.state.referrals.values()}
            ok = (
                referral.referral_id not in self.state.referrals
                and referral.tracking_reference not in references
            )
            if ok:
                self.state.referrals[referral.referral_id] = referral
                self.state.standing[referral.referral_id] = Standing(
                    referral.referral_id,
                    referral.tracking_reference,
                    referral.submission.service.value,
                    ReferralState.RECEIVED,
                    None,
                    referral.organisation_code,
                    referral.received.event_id,
                    None,
                    referral.received.correlation_id,
                )
                self.state.outbox.append(referral.received)
            kept.append(ok)
        return kept

    async def find_idempotent(
        self, organisation_code: str, key: str, request_sha256: bytes
    ) -> UUID | None:
        return _earlier(self.state.idempotency, organisation_code, key, request_sha256)

    async def remember_idempotent(
        self, organisation_code: str, key: str, request_sha256: bytes, referral_id: UUID
    ) -> bool:
        self.before_remember(self.state)
        self.before_remember(self._before)
        if (organisation_code, key) in self.state.idempotency:
            return False
        self.state.idempotency[(organisation_code, key)] = (request_sha256, referral_id)
        return True

    async def forget(self, event_ids: Sequence[UUID]) -> None:
        for event_id in event_ids:
            self.state.inbox.pop(event_id, None)

    async def standing(self, referral_ids: Sequence[UUID]) -> dict[UUID, Standing]:
        return {i: self.state.standing[i] for i in referral_ids if i in self.state.standing}

    async def record_steps(self, steps: Sequence[Step]) -> None:
        for step in steps:
            if step.transition_id in self.state.steps:
                continue
            self.state.steps[step.transition_id] = step
            now = self.state.standing[step.referral_id]
            changes: dict[str, object] = {"state": step.transition.after}
            if step.decision is not None:
                destination = step.decision.destination
                changes |= {
                    "decided_at": step.decision.decided_at,
                    "destination": destination.id if destination else now.destination,
                }
            self.state.standing[step.referral_id] = replace(now, **changes)  # type: ignore[arg-type]
            if step.sets_appointment:
                self.state.appointments[step.referral_id] = step.appointment
            if step.transition.before != step.transition.after:
                self.state.overdue_since.pop(step.referral_id, None)
            if step.transition.after in FINAL:
                self.state.finished_at[step.referral_id] = step.at
            for stopped in step.stops_clocks:
                self.state.clocks.pop((step.referral_id, stopped), None)
            for started in step.starts_clocks:
                self.state.clocks.setdefault(
                    (step.referral_id, started.clock), (started.started_at, started.due_at)
                )
            self.state.outbox.extend(step.events)

    async def locate(self, reference: str) -> Located | None:
        for referral_id, now in self.state.standing.items():
            if reference in (str(referral_id), now.tracking_reference):
                erased = self.state.erased_at.get(referral_id)
                return Located(referral_id, now.tracking_reference, now.state, erased)
        return None

    async def finished_before(self, at: datetime, limit: int) -> list[UUID]:
        done = sorted((when, r) for r, when in self.state.finished_at.items() if when < at)
        return [r for _, r in done if r not in self.state.erased_at][:limit]

    async def erase_details(self, referral_ids: Sequence[UUID], at: datetime) -> None:
        for referral_id in referral_ids:
            self.state.erased_at[referral_id] = at

    async def audit(self, entries: Sequence[AuditEntry]) -> None:
        self.state.audit_log.extend(entries)

    async def announce(self, events: Sequence[Event]) -> None:
        self.state.outbox.extend(events)

    async def due_clocks(self, now: datetime, limit: int) -> list[DueClock]:
        due = sorted(
            (times[1], referral_id, clock, times[0])
            for (referral_id, clock), times in self.state.clocks.items()
            if times[1] <= now
        )[:limit]
        found = []
        for due_at, referral_id, clock, started_at in due:
            now_standing = self.state.standing[referral_id]
            found.append(
                DueClock(
                    uuid5(referral_id, clock),
                    referral_id,
                    clock,
                    started_at,
                    due_at,  # type: ignore[arg-type]
                    now_standing.tracking_reference,
                    now_standing.service,
                    now_standing.state,
                    now_standing.destination,
                    now_standing.correlation_id,
                    self.state.told_her.get(referral_id),
                    self.state.appointments.get(referral_id),
                )
            )
        return found

    async def fire_clocks(self, fired: Sequence[tuple[UUID, bool]], at: datetime) -> None:
        told = dict(fired)
        for key in list(self.state.clocks):
            deadline_id = uuid5(key[0], key[1])
            if deadline_id in told:
                del self.state.clocks[key]
                self.state.fired.append(key)
                if key[1] != "reminder":
                    self.state.overdue_since.setdefault(key[0], at)
                if told[deadline_id]:
                    self.state.told_her[key[0]] = at

    async def replace_submission(self, referral: AcceptedReferral, *, reroute: bool) -> None:
        self.state.referrals[referral.referral_id] = referral
        if reroute:
            now = self.state.standing[referral.referral_id]
            self.state.standing[referral.referral_id] = replace(
                now, received_event_id=referral.received.event_id
            )
            self.state.outbox.append(referral.received)

    async def find_action(
        self, organisation_code: str, key: str, request_sha256: bytes
    ) -> dict[str, Any] | None:
        return _earlier(self.state.actions, organisation_code, key, request_sha256)

    async def remember_action(
        self,
        organisation_code: str,
        key: str,
        request_sha256: bytes,
        referral_id: UUID,
        answer: dict[str, Any],
    ) -> bool:
        if (organisation_code, key) in self.state.actions:
            return False
        self.state.actions[(organisation_code, key)] = (request_sha256, answer)
        return True

    async def self_referral_by_reference(self, tracking_reference: str) -> UUID | None:
        for referral in self.state.referrals.values():
            if referral.tracking_reference == tracking_reference and not referral.organisation_code:
                return referral.referral_id
        return None

    async def submission_of(self, referral_id: UUID) -> dict[str, Any] | None:
        referral = self.state.referrals.get(referral_id)
        return referral.submission.model_dump(mode="json") if referral else None


@dataclass
class NotificationRow:
    notification_id: UUID
    referral_id: UUID
    status: str = "pending"
    attempts: int = 0
    lease_owner: UUID | None = None
    lease_expires_at: float | None = None  # time.monotonic()
    provider_id: str | None = None
    error: str | None = None


@dataclass
class NotifierState:
    """What the notifier keeps: its rows by (decision, recipient, channel), inbox, outbox."""

    rows: dict[Key, NotificationRow] = field(default_factory=dict)
    inbox: dict[UUID, str] = field(default_factory=dict)
    outbox: list[Event] = field(default_factory=list)


class InMemoryNotifications:
    """`notifier.ports.Notifications` over a `NotifierState`, with the same leases and fence
    as the PostgreSQL statements (a lease lives `lease_seconds` of monotonic time)."""

    def __init__(
        self, state: NotifierState, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.state = state
        self.monotonic = monotonic  # the database's clock, as these leases see it
        self.fence_queries = 0  # `still_ours` asked: a round trip to PostgreSQL

    def _by_id(self, notification_id: UUID) -> NotificationRow:
        (row,) = [r for r in self.state.rows.values() if r.notification_id == notification_id]
        return row

    async def already_handled(self, decision_event_ids: Sequence[UUID]) -> set[UUID]:
        return {i for i in decision_event_ids if i in self.state.inbox}

    async def reopen_failed(self, decision_event_ids: Sequence[UUID]) -> int:
        reopened = [
            row
            for (event_id, _to, _by), row in self.state.rows.items()
            if event_id in decision_event_ids and row.status == "failed"
        ]
        for row in reopened:
            row.status, row.error = "pending", None
        for event_id in decision_event_ids:
            self.state.inbox.pop(event_id, None)
        return len(reopened)

    async def create_claimed(
        self, wanted: Sequence[tuple[Key, UUID, bool]], owner: UUID, lease_seconds: float
    ) -> dict[Key, UUID]:
        created = {}
        for key, referral_id, send in wanted:
            if key in self.state.rows:
                continue
            row = NotificationRow(uuid.uuid4(), referral_id)
            if send:
                row.status, row.attempts = "sending", 1
                row.lease_owner, row.lease_expires_at = owner, self.monotonic() + lease_seconds
            self.state.rows[key] = row
            created[key] = row.notification_id
        return created

    async def ensure(self, wanted: Sequence[tuple[Key, UUID]]) -> dict[Key, Row]:
        for key, referral_id in wanted:
            self.state.rows.setdefault(key, NotificationRow(uuid.uuid4(), referral_id))
        return {
            key: Row(row.notification_id, row.status, row.attempts)
            for key, _ in wanted
            for row in [self.state.rows[key]]
        }

    async def claim(
        self, notification_ids: Sequence[UUID], owner: UUID, lease_seconds: float
    ) -> dict[UUID, str]:
        now, taken = self.monotonic(), {}
        for notification_id in notification_ids:
            row = self._by_id(notification_id)
            ended = row.lease_expires_at is None or row.lease_expires_at < now
            if row.status == "pending" or (
                row.status == "sending" and (row.lease_owner == owner or ended)
            ):
                taken[notification_id] = row.status
                row.status, row.attempts = "sending", row.attempts + 1
                row.lease_owner, row.lease_expires_at = owner, now + lease_seconds
        return taken

    async def still_ours(self, notification_id: UUID, owner: UUID, lease_seconds: float) -> bool:
        self.fence_queries += 1
        row, now = self._by_id(notification_id), self.monotonic()
        alive = row.lease_expires_at is not None and row.lease_expires_at > now
        if row.status == "sending" and row.lease_owner == owner and alive:
            row.lease_expires_at = now + lease_seconds
            return True
        return False

    async def finish(
        self, endings: Sequence[Ending], handled: Sequence[tuple[UUID, str]], *, owner: UUID
    ) -> None:
        for ending in endings:
            row = self._by_id(ending.notification_id)
            if row.lease_owner == owner or (row.lease_owner is None and row.status == "pending"):
                row.status, row.provider_id, row.error = (
                    ending.status,
                    ending.provider_id,
                    ending.error,
                )
                row.lease_expires_at = None
                self.state.outbox.extend(event for event, _key, _topic in ending.events)
        self.state.inbox.update(dict(handled))


@dataclass
class FakeContacts:
    """`notifier.ports.ContactSource`: the contacts intake knows."""

    known: dict[UUID, PatientContact] = field(default_factory=dict)

    async def contacts(
        self, referral_ids: Collection[UUID]
    ) -> tuple[dict[UUID, PatientContact], str]:
        return {i: self.known[i] for i in referral_ids if i in self.known}, "unknown to intake"


@dataclass
class FakeProvider:
    """A provider (Notify, a clinic's webhook, the SMTP relay) that keeps what it accepted by
    our reference. `failures` are raised, one per call, before it answers normally; a failure
    in `after_accepting` is raised after it has kept the message (a 5xx after the fact)."""

    accepted: dict[str, Message] = field(default_factory=dict)
    payloads: dict[str, tuple[object, ...]] = field(default_factory=dict)
    failures: list[Exception] = field(default_factory=list)
    after_accepting: list[Exception] = field(default_factory=list)
    calls: int = 0

    async def send(self, message: Message, reference: str, *payload: object) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        self.accepted.setdefault(reference, message)
        self.payloads.setdefault(reference, payload)
        if self.after_accepting:
            raise self.after_accepting.pop(0)
        return f"provider-{reference}"

    async def find(self, reference: str) -> str | None:
        return f"provider-{reference}" if reference in self.accepted else None
