"""In-memory fakes of the services' ports, for unit tests that need no server: each keeps
its state in plain collections and honours the port's transaction (all or nothing)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from uuid import UUID

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
