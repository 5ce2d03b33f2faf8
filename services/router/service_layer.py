"""Use cases: decide a received referral once; resolve one that needs triage.

Decision and publish stay consistent across crashes through the transactional outbox (the
decision row and its event commit together; the relay publishes after), rather than Kafka
transactions: the state lives in PostgreSQL, and a Kafka transaction cannot include a
PostgreSQL commit, so it would still need the inbox to dedupe and gain nothing.

Each use case takes a `UnitOfWork` (`router.ports`): PostgreSQL in the service, memory in tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from uuid import UUID

from router.domain.rules import decide
from router.domain.triage import TriageError, resolve
from router.metrics import ROUTING_DECISIONS
from router.ports import PendingTriage, UnitOfWork
from shared.contracts import (
    LifecycleEvent,
    Outcome,
    ReferralCancelled,
    ReferralDecided,
    ReferralReceived,
    ReferralReturned,
    TriageResolved,
)
from shared.directory import Directory
from shared.logging import correlation, get_logger

log = get_logger(__name__)


async def decide_batch(
    unit_of_work: UnitOfWork,
    batch: list[ReferralReceived],
    directory: Directory,
    *,
    as_of: date,
    topic: str,
) -> list[ReferralDecided]:
    """Decide a fetched batch in one transaction (one disk flush, one offset commit), skipping
    events decided before. A failure rolls the whole batch back and it comes again."""
    unique: list[ReferralReceived] = []  # an event repeated within one batch counts once
    seen: set[UUID] = set()
    for received in batch:
        if received.event_id not in seen:
            seen.add(received.event_id)
            unique.append(received)
    pairs = [
        (
            received,
            ReferralDecided.announce(
                decide(received, directory, as_of),
                referral_id=received.referral_id,
                tracking_reference=received.tracking_reference,
                received_event_id=received.event_id,
                correlation_id=received.correlation_id,
            ),
        )
        for received in unique
    ]
    async with unit_of_work() as decisions:
        new = await decisions.first_times([r.event_id for r in unique], topic)
        fresh = [(r, d) for r, d in pairs if r.event_id in new]
        await decisions.record_many(fresh)
    for received, event in fresh:
        ROUTING_DECISIONS.labels(event.service.value, event.outcome.value, "rules").inc()
        with correlation(received.correlation_id):
            log.info(
                "referral decided",
                referral_id=str(received.referral_id),
                outcome=event.outcome.value,
                destination=event.destination.id if event.destination else None,
                rules=[r.rule for r in event.reasons],
                urgent=event.urgent,
            )
    if len(fresh) < len(pairs):
        log.info("referrals already decided", skipped=len(pairs) - len(fresh))
    return [d for _, d in fresh]


async def resolve_triage(
    unit_of_work: UnitOfWork,
    referral_id: UUID,
    directory: Directory,
    *,
    route_to: str | None,
    decided_by: str,
    reason: str,
    signposting: tuple[str, ...] = (),
    once: tuple[UUID, str] | None = None,
) -> ReferralDecided | None:
    """A person's decision on a referral awaiting triage, announced as the referral's next
    decision. `once`: the event (id, topic) that asked for it, kept in the inbox in the same
    transaction, so a redelivered request decides nothing (None)."""
    if not decided_by.strip():
        raise TriageError("say who decided (--by)")
    async with unit_of_work() as decisions:
        if once is not None and not await decisions.first_times([once[0]], once[1]):
            return None
        current = await decisions.lock_latest(referral_id)
        if current is None:
            raise TriageError(f"no referral {referral_id}")
        if await decisions.is_closed(referral_id):
            raise TriageError(f"referral {referral_id} was cancelled")
        if current.outcome != Outcome.NEEDS_TRIAGE:
            raise TriageError(
                f"referral {referral_id} is {current.outcome.value}, not awaiting triage"
            )
        received = current.received
        decision = resolve(
            received.service,
            directory,
            route_to=route_to,
            reason=reason,
            signposting=signposting,
            urgent=current.urgent,
        )
        event = ReferralDecided.announce(
            decision,
            referral_id=referral_id,
            tracking_reference=received.tracking_reference,
            received_event_id=received.event_id,
            correlation_id=received.correlation_id,
            decided_by=decided_by.strip(),
        )
        await decisions.record(event)
    ROUTING_DECISIONS.labels(event.service.value, event.outcome.value, "person").inc()
    log.info("triage resolved", referral_id=str(referral_id), outcome=event.outcome.value)
    return event


async def resolve_from_triage_page(
    unit_of_work: UnitOfWork,
    directory: Directory,
    events: Sequence[TriageResolved],
    *,
    topic: str,
) -> None:
    """Resolutions made on intake's triage page, each once: one that no longer applies (the
    referral was cancelled, or someone resolved it first) is passed over, and logged."""
    for event in events:
        try:
            await resolve_triage(
                unit_of_work,
                event.referral_id,
                directory,
                route_to=event.route_to,
                decided_by=event.decided_by,
                reason=event.reason,
                signposting=event.signposting,
                once=(event.event_id, topic),
            )
        except TriageError as passed_over:
            with correlation(event.correlation_id):
                log.info(
                    "triage resolution passed over",
                    referral_id=str(event.referral_id),
                    why=str(passed_over),
                )


async def pending_triage(unit_of_work: UnitOfWork) -> list[PendingTriage]:
    """Referrals awaiting a person's decision, oldest first."""
    async with unit_of_work() as decisions:
        return await decisions.pending_triage()


async def follow_lifecycle(
    unit_of_work: UnitOfWork, events: Sequence[LifecycleEvent], *, topic: str
) -> None:
    """What routing must know of a referral's later life, each event once: a return to
    triage puts it back in the triage list; a cancellation takes it out for good."""
    async with unit_of_work() as decisions:
        new = await decisions.first_times([e.event_id for e in events], topic)
        for event in events:
            if event.event_id not in new:
                continue
            new.discard(event.event_id)  # repeated within the batch: once
            if isinstance(event, ReferralReturned) and event.to == "triage":
                await decisions.keep_return(event)
                log.info("returned to triage", referral_id=str(event.referral_id), by=event.site)
            elif isinstance(event, ReferralCancelled):
                await decisions.close(event.referral_id, "cancelled")
                log.info("referral closed: cancelled", referral_id=str(event.referral_id))
