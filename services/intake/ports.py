"""What intake's service layer needs from the world, as Protocols: the adapters implement
them over PostgreSQL, the unit tests over memory (`tests/support/fakes.py`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol
from uuid import UUID

from intake.domain.lifecycle import State, Transition
from intake.domain.referral import AcceptedReferral, RecordedDecision
from shared.contracts import ClockName, DeadLetter, Event
from shared.dead_letters import Replayed
from shared.unit_of_work import Transaction


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before for a different request."""


class AlreadyUsed(Exception):
    """The referral id or tracking reference belongs to another referral."""


@dataclass(frozen=True)
class Standing:
    """Where one referral stands, and what decides who may act on it."""

    referral_id: UUID
    tracking_reference: str
    service: str
    state: State
    destination: str | None  # the site it is routed to (or accepted by)
    organisation_code: str | None  # the referrer's; None for a self-referral
    received_event_id: UUID | None  # the ReferralReceived its decision must answer
    decided_at: datetime | None
    correlation_id: str


@dataclass(frozen=True)
class ClockStart:
    """A promise's clock, started by a step: when it started and when it runs out."""

    clock: ClockName
    started_at: datetime
    due_at: datetime


@dataclass(frozen=True)
class DueClock:
    """A running clock that ran out, claimed for firing, with what its event says."""

    deadline_id: UUID
    referral_id: UUID
    clock: ClockName
    started_at: datetime
    due_at: datetime
    tracking_reference: str
    service: str
    state: State
    site: str | None
    correlation_id: str
    her_last_told_at: datetime | None  # of another breach of this referral
    appointment: dict[str, Any] | None  # the one she has now (a reminder names it)


@dataclass(frozen=True)
class Step:
    """One transition to keep: the referral's new state, its history row, and the events
    that announce it (through the outbox)."""

    referral_id: UUID
    transition_id: UUID
    transition: Transition
    actor_id: str | None
    at: datetime
    person_id: str | None = None  # the member of staff who took it, if one did
    reason_code: str | None = None
    reason: str | None = None
    decision: RecordedDecision | None = None  # a decision's, to show with the status
    events: tuple[Event, ...] = ()
    details: dict[str, Any] | None = None  # the appointment, the attempts, the outcome
    appointment: dict[str, Any] | None = None  # the one she has now, when the step sets it
    sets_appointment: bool = False  # booked sets it; a cancelled appointment clears it
    starts_clocks: tuple[ClockStart, ...] = ()  # the promises the new state waits under
    stops_clocks: tuple[ClockName, ...] = ()  # those the old state ran and this one does not


@dataclass(frozen=True)
class Located:
    """A referral found by its id or tracking reference, locked for an erasure."""

    referral_id: UUID
    tracking_reference: str
    state: State
    erased_at: datetime | None


@dataclass(frozen=True)
class AuditEntry:
    """Who did what to which referral, and why (never a patient detail)."""

    at: datetime
    actor: str
    action: Literal["erased", "erased-by-retention", "replayed"]
    referral_id: UUID | None
    reason: str
    details: dict[str, Any]


class DeadLetterDesk(Protocol):
    """The dead-letter topics, for the operations page: what is kept there, and a replay."""

    async def kept(self) -> list[tuple[str, DeadLetter]]:
        """Each dead letter with the topic it is on, oldest first."""
        ...

    async def replay(self, event_id: UUID) -> Replayed:
        """Send the letter's original back to its topic (ReplayRefused if it cannot be)."""
        ...


class Referrals(Transaction, Protocol):
    """Intake's state, in one transaction: `async with` begins it, a clean exit commits it,
    an exception rolls all of it back. A referral is kept with its event queued (outbox)."""

    async def add_many(self, referrals: Sequence[AcceptedReferral]) -> list[bool]:
        """Keep each referral and queue its event; whether each was kept (not when its id or
        tracking reference is already used, in the store or earlier in the batch)."""
        ...

    async def find_idempotent(
        self, organisation_code: str, key: str, request_sha256: bytes
    ) -> UUID | None:
        """The referral an earlier identical request made, or None if the key is new; raises
        IdempotencyConflict if the key was used for another request."""
        ...

    async def remember_idempotent(
        self, organisation_code: str, key: str, request_sha256: bytes, referral_id: UUID
    ) -> bool:
        """Record the key; False if a concurrent request recorded it first."""
        ...

    async def first_times(self, event_ids: Sequence[UUID], topic: str) -> set[UUID]:
        """Record events as handled (inbox); return those not handled before."""
        ...

    async def forget(self, event_ids: Sequence[UUID]) -> None:
        """Take events out of the inbox: they were not kept after all."""
        ...

    async def standing(self, referral_ids: Sequence[UUID]) -> dict[UUID, Standing]:
        """Where each known referral stands, locked until the transaction ends."""
        ...

    async def record_steps(self, steps: Sequence[Step]) -> None:
        """Keep each step (a step already kept, by its id, changes nothing)."""
        ...

    async def due_clocks(self, now: datetime, limit: int) -> list[DueClock]:
        """Running clocks due by `now`, oldest first, claimed until the transaction ends
        (another process passes over them: FOR UPDATE SKIP LOCKED)."""
        ...

    async def fire_clocks(self, fired: Sequence[tuple[UUID, bool]], at: datetime) -> None:
        """Mark claimed clocks fired, each with whether she was told, and their referrals
        overdue from `at` until their next step (their events are announced in the same
        transaction)."""
        ...

    async def locate(self, reference: str) -> Located | None:
        """The referral with this id or tracking reference, locked until the end."""
        ...

    async def finished_before(self, at: datetime, limit: int) -> list[UUID]:
        """Referrals finished before `at` whose details are still kept, claimed (SKIP LOCKED)."""
        ...

    async def erase_details(self, referral_ids: Sequence[UUID], at: datetime) -> None:
        """Erase each referral's patient details (its submission), keeping what happened."""
        ...

    async def audit(self, entries: Sequence[AuditEntry]) -> None:
        """Record actions in the audit log, in this transaction."""
        ...

    async def announce(self, events: Sequence[Event]) -> None:
        """Queue events that change no state here (a request to another service)."""
        ...

    async def replace_submission(self, referral: AcceptedReferral, *, reroute: bool) -> None:
        """An amendment: the corrected submission; with `reroute`, its new ReferralReceived
        is queued and becomes the event the next decision must answer."""
        ...

    async def find_action(
        self, organisation_code: str, key: str, request_sha256: bytes
    ) -> dict[str, Any] | None:
        """The answer an earlier identical action (cancel, amend, ...) was given under this
        Idempotency-Key, or None; raises IdempotencyConflict for another request."""
        ...

    async def remember_action(
        self,
        organisation_code: str,
        key: str,
        request_sha256: bytes,
        referral_id: UUID,
        answer: dict[str, Any],
    ) -> bool:
        """Keep the answer under the key; False if a concurrent request kept one first."""
        ...

    async def submission_of(self, referral_id: UUID) -> dict[str, Any] | None:
        """The submission as stored (the latest, after amendments)."""
        ...

    async def self_referral_by_reference(self, tracking_reference: str) -> UUID | None:
        """The self-referral with this reference (a professional's is never found here)."""
        ...


UnitOfWork = Callable[[], Referrals]
