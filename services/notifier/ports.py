"""What the notifier's service layer needs from the world, as Protocols: the adapters
implement them over PostgreSQL, intake's API and the providers; the unit tests over memory
(`tests/support/fakes.py`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

from notifier.domain.plan import Message
from shared import outbox
from shared.contracts import PatientContact

Key = tuple[UUID, str, str]  # decision event id, recipient, channel


@dataclass(frozen=True)
class Row:
    notification_id: UUID
    status: str
    attempts: int


@dataclass(frozen=True)
class Ending:
    """How one notification ended, and the events that say so."""

    notification_id: UUID
    status: str  # 'sent' or 'failed'
    provider_id: str | None = None
    error: str | None = None
    events: tuple[outbox.Queued, ...] = field(default=())
    # Sent to her by SMS or email: the event (as pydantic's JSON text: no dict built, no
    # second encoder) and its topic, kept to send the same message by another channel if no
    # `delivered` receipt comes within the wait.
    awaits_receipt: tuple[str, str] | None = None


class Notifications(Protocol):
    """One row per (told event, recipient, channel); each call is atomic on its own."""

    async def already_handled(self, decision_event_ids: Sequence[UUID]) -> set[UUID]:
        """Which of these decisions were notified in full before (inbox)."""
        ...

    async def reopen_failed(self, decision_event_ids: Sequence[UUID]) -> int:
        """Make these events' failed messages pending and forget the events were handled, so
        that each, replayed by an operator, is tried again; sent messages stay sent."""
        ...

    async def create_claimed(
        self, wanted: Sequence[tuple[Key, UUID, bool]], owner: UUID, lease_seconds: float
    ) -> dict[Key, UUID]:
        """The rows of each (key, referral id, to send) not there yet, created: those to send
        leased to `owner` at once, the others pending. Returns each created row's id; rows
        already there are left as they are (and absent from the answer)."""
        ...

    async def ensure(self, wanted: Sequence[tuple[Key, UUID]]) -> dict[Key, Row]:
        """The row of each (key, referral id), created if new; existing rows keep their state."""
        ...

    async def claim(
        self, notification_ids: Sequence[UUID], owner: UUID, lease_seconds: float
    ) -> dict[UUID, str]:
        """Lease rows to `owner` (pending ones, ours, or those whose lease ended; never a live
        lease of another); each row taken with the status it had."""
        ...

    async def still_ours(self, notification_id: UUID, owner: UUID, lease_seconds: float) -> bool:
        """True, and the lease renewed, only if `owner` still holds a live lease on the row."""
        ...

    async def finish(
        self, endings: Sequence[Ending], handled: Sequence[tuple[UUID, str]], *, owner: UUID
    ) -> None:
        """In one transaction: each ending of a row `owner` still leases (or never claimed)
        with its events queued, and the decisions now handled in full put in the inbox."""
        ...


class ContactSource(Protocol):
    """Intake: how to reach each referral's patient and referrer."""

    async def contacts(
        self, referral_ids: Collection[UUID]
    ) -> tuple[dict[UUID, PatientContact], str]:
        """Each known referral's contact, and why the others are missing."""
        ...


class PatientMessages(Protocol):
    """GOV.UK Notify: SMS, email and letters to patients, found again by our reference."""

    async def send(self, message: Message, reference: str) -> str: ...

    async def find(self, reference: str) -> str | None: ...


class ClinicWebhooks(Protocol):
    async def send(self, message: Message, reference: str, payload: dict[str, object]) -> str: ...


class ReferrerSystems(Protocol):
    """A referring organisation's own BaRS `$process-message`: a FHIR message, signed."""

    async def send(
        self, message: Message, reference: str, bundle: dict[str, object], correlation_id: str
    ) -> str: ...


class ReferrerEmail(Protocol):
    async def send(self, message: Message, reference: str) -> str: ...


class Budget(Protocol):
    """Notify's limits, shared by every notifier process."""

    async def wait_turn(self, channel: str) -> None: ...


@dataclass(frozen=True)
class Undelivered:
    """A message to her that was not delivered (a failed receipt, or none in time), or a
    fallback still to send: the event it told, and the channels already tried for it."""

    notification_id: UUID
    referral_id: UUID
    channel: str
    told: dict[str, object]
    told_topic: str
    delivery_status: str | None
    tried: tuple[str, ...]


class Fallbacks(Protocol):
    """The messages awaiting their delivery receipt, and the fallbacks that follow them."""

    async def undelivered(self, now: datetime, limit: int) -> list[Undelivered]:
        """Messages due for a fallback by `now`, not yet fallen back."""
        ...

    async def fall_back(
        self, followed: Sequence[tuple[Undelivered, str | None, str]], now: datetime
    ) -> list[UUID]:
        """Each message's fallback channel (None: none left, with why), kept in one
        transaction with its new row; returns the messages this call took (another process
        may have taken some first)."""
        ...

    async def open_fallbacks(self, limit: int) -> list[Undelivered]:
        """Fallback rows not yet sent (pending, or sending under a lease that ended)."""
        ...
