"""In-memory fakes of the services' ports, for unit tests that need no server: each keeps
its state in plain collections and honours the port's transaction (all or nothing)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from uuid import UUID

from intake.domain.referral import AcceptedReferral
from intake.ports import IdempotencyConflict, StoredReferral
from router.ports import Latest, PendingTriage
from shared.contracts import Outcome, ReferralDecided, ReferralReceived


@dataclass
class RouterState:
    """What the router keeps: the inbox, each referral's event, its decisions, the outbox."""

    inbox: dict[UUID, str] = field(default_factory=dict)
    received: dict[UUID, ReferralReceived] = field(default_factory=dict)
    decisions: list[ReferralDecided] = field(default_factory=list)
    outbox: list[ReferralDecided] = field(default_factory=list)


class InMemoryDecisions:
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
        self._before: RouterState | None = None

    async def __aenter__(self) -> InMemoryDecisions:
        self._before = copy.deepcopy(self.state)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is not None and self._before is not None:
            self.state.__dict__.update(self._before.__dict__)  # roll back
        self._before = None

    async def first_times(self, event_ids: Sequence[UUID], topic: str) -> set[UUID]:
        new = {event_id for event_id in event_ids if event_id not in self.state.inbox}
        self.state.inbox.update(dict.fromkeys(new, topic))
        return new

    async def record_many(self, pairs: Sequence[tuple[ReferralReceived, ReferralDecided]]) -> None:
        for received, decision in pairs:
            self.state.received.setdefault(received.referral_id, received)
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
            if d.outcome == Outcome.NEEDS_TRIAGE
        ]


@dataclass
class IntakeState:
    """What intake keeps: referrals (by id), idempotency keys, the inbox, the outbox."""

    referrals: dict[UUID, AcceptedReferral] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], tuple[bytes, UUID]] = field(default_factory=dict)
    inbox: dict[UUID, str] = field(default_factory=dict)
    outbox: list[ReferralReceived] = field(default_factory=list)


class InMemoryReferrals:
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
        self._before: IntakeState | None = None

    async def __aenter__(self) -> InMemoryReferrals:
        self._before = copy.deepcopy(self.state)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is not None and self._before is not None:
            self.state.__dict__.update(self._before.__dict__)  # roll back
        self._before = None

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
                self.state.outbox.append(referral.received)
            kept.append(ok)
        return kept

    async def find_idempotent(
        self, organisation_code: str, key: str, request_sha256: bytes
    ) -> UUID | None:
        found = self.state.idempotency.get((organisation_code, key))
        if found is None:
            return None
        if found[0] != request_sha256:
            raise IdempotencyConflict("this Idempotency-Key was used for a different request")
        return found[1]

    async def remember_idempotent(
        self, organisation_code: str, key: str, request_sha256: bytes, referral_id: UUID
    ) -> bool:
        self.before_remember(self.state)
        if self._before is not None:
            self.before_remember(self._before)
        if (organisation_code, key) in self.state.idempotency:
            return False
        self.state.idempotency[(organisation_code, key)] = (request_sha256, referral_id)
        return True

    async def get(self, referral_id: UUID) -> StoredReferral | None:
        referral = self.state.referrals.get(referral_id)
        if referral is None:
            return None
        return StoredReferral(
            referral.referral_id,
            referral.tracking_reference,
            referral.submission.service.value,
            "received",
            datetime.now(UTC),
            None,
        )

    async def first_times(self, event_ids: Sequence[UUID], topic: str) -> set[UUID]:
        new = {event_id for event_id in event_ids if event_id not in self.state.inbox}
        self.state.inbox.update(dict.fromkeys(new, topic))
        return new

    async def forget(self, event_ids: Sequence[UUID]) -> None:
        for event_id in event_ids:
            self.state.inbox.pop(event_id, None)
