"""What the router's service layer needs from the world, as Protocols: the adapters implement
them over PostgreSQL, the unit tests over memory (`tests/support/fakes.py`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from shared.contracts import (
    Outcome,
    Reason,
    ReferralDecided,
    ReferralReceived,
    ReferralReturned,
)
from shared.unit_of_work import Transaction


@dataclass(frozen=True)
class Latest:
    """A referral's latest decision, with the event it was decided from."""

    outcome: Outcome
    urgent: bool
    received: ReferralReceived


@dataclass(frozen=True)
class PendingTriage:
    referral_id: UUID
    tracking_reference: str
    service: str
    reasons: tuple[Reason, ...]
    since: datetime


class Decisions(Transaction, Protocol):
    """The router's state, in one transaction: `async with` begins it, a clean exit commits
    it, an exception rolls all of it back. A decision is kept with its event queued (outbox)."""

    async def first_times(self, event_ids: Sequence[UUID], topic: str) -> set[UUID]:
        """Record events as handled (inbox); return those not handled before."""
        ...

    async def record_many(self, pairs: Sequence[tuple[ReferralReceived, ReferralDecided]]) -> None:
        """Keep each referral and its first decision, and queue the decision events."""
        ...

    async def lock_latest(self, referral_id: UUID) -> Latest | None:
        """The referral's latest decision, locked until the transaction ends."""
        ...

    async def record(self, decision: ReferralDecided) -> None:
        """Keep a later decision (a person's, at triage) and queue its event."""
        ...

    async def pending_triage(self) -> list[PendingTriage]:
        """Referrals whose latest decision is needs-triage and that are not closed, oldest
        first."""
        ...

    async def keep_return(self, returned: ReferralReturned) -> None:
        """A clinic returned a referral to triage: it awaits a person again (kept as a
        needs-triage decision by that clinic, announced by intake, not by us)."""
        ...

    async def close(self, referral_id: UUID, why: str) -> None:
        """The referral left routing for good (cancelled): triage no longer waits on it."""
        ...

    async def is_closed(self, referral_id: UUID) -> bool: ...


UnitOfWork = Callable[[], Decisions]
