"""What the notifier's service layer needs from the world, as Protocols: the adapters
implement them over PostgreSQL, intake's API and the providers; the unit tests over memory
(`tests/support/fakes.py`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
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


class Notifications(Protocol):
    """One row per (told event, recipient, channel); each call is atomic on its own."""

    async def already_handled(self, decision_event_ids: Sequence[UUID]) -> set[UUID]:
        """Which of these decisions were notified in full before (inbox)."""
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
