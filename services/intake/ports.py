"""What intake's service layer needs from the world, as Protocols: the adapters implement
them over PostgreSQL, the unit tests over memory (`tests/support/fakes.py`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from intake.domain.referral import AcceptedReferral
from shared.unit_of_work import Transaction


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

    async def get(self, referral_id: UUID) -> StoredReferral | None: ...

    async def first_times(self, event_ids: Sequence[UUID], topic: str) -> set[UUID]:
        """Record events as handled (inbox); return those not handled before."""
        ...

    async def forget(self, event_ids: Sequence[UUID]) -> None:
        """Take events out of the inbox: they were not kept after all."""
        ...


UnitOfWork = Callable[[], Referrals]
