"""Use cases: each takes a validated submission through the domain rules into storage.

Thin orchestration between the domain (pure) and the adapters (SQL), in the manner of
*Architecture Patterns with Python*'s service layer; HTTP and Kafka handlers call these, with
a `UnitOfWork` (`intake.ports`): PostgreSQL in the service, memory in tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal
from uuid import UUID

from intake.adapters.api_keys import ApiKey
from intake.domain.referral import AcceptedReferral, accept_professional
from intake.metrics import REFERRALS_ACCEPTED
from intake.ports import AlreadyUsed, Referrals, UnitOfWork
from shared.group_commit import GroupCommit
from shared.logging import correlation, get_logger
from shared.submission import ReferralSubmission

log = get_logger(__name__)


@dataclass(frozen=True)
class Submitted:
    referral_id: UUID
    tracking_reference: str
    replayed: bool = False


_DRAWS = 3  # of a fresh id and tracking reference, should one already be in use


class _LostRace(Exception):
    """A concurrent request with the same Idempotency-Key committed first."""


class StoredTogether:
    """Referrals of concurrent requests without an Idempotency-Key, stored in one transaction
    (`shared.group_commit`): a transaction per request cost more than the rest of its
    handling. Each request still answers only once its own referral is committed. (One with
    a key checks and keeps its key in the same transaction as its referral: alone.)"""

    def __init__(self, unit_of_work: UnitOfWork) -> None:
        self._unit_of_work = unit_of_work
        self._together: GroupCommit[AcceptedReferral, bool] = GroupCommit(self._add_all)

    async def add(self, referral: AcceptedReferral) -> bool:
        """Whether it was stored (False: its id or reference is already in use)."""
        return await self._together.submit(referral)

    async def _add_all(self, referrals: list[AcceptedReferral]) -> list[bool]:
        async with self._unit_of_work() as store:
            return await store.add_many(referrals)


async def submit_professional(
    unit_of_work: UnitOfWork,
    submission: ReferralSubmission,
    *,
    api_key: ApiKey,
    idempotency: tuple[str, bytes] | None,
    correlation_id: str,
    today: date,
    door: Literal["api", "bars"] = "api",
    together: StoredTogether | None = None,
) -> Submitted:
    """Accept a GP system's referral once (`door`: the JSON API, or a BaRS message).
    `idempotency` is (key, request hash): a repeat returns the first answer; a different
    request under the same key is a conflict. Without one, `together` (if given) stores it
    with those of concurrent requests.

    Intake draws the id and tracking reference; one already in use (a reference is 9 random
    symbols, so rarely) is drawn again rather than refused."""
    org = api_key.organisation_code
    if idempotency is not None:
        async with unit_of_work() as referrals:
            earlier = await referrals.find_idempotent(org, *idempotency)
            if earlier is not None:
                return await _replay(referrals, earlier)
    for draw in range(1, _DRAWS + 1):
        accepted = accept_professional(
            submission,
            organisation_code=org,
            correlation_id=correlation_id,
            today=today,
            door=door,
        )
        try:
            if idempotency is None and together is not None:
                if not await together.add(accepted):
                    raise AlreadyUsed("the referral id or tracking reference is already in use")
                break
            async with unit_of_work() as referrals:
                if not all(await referrals.add_many([accepted])):  # [False]: not kept
                    raise AlreadyUsed("the referral id or tracking reference is already in use")
                if idempotency is not None and not await referrals.remember_idempotent(
                    org, *idempotency, accepted.referral_id
                ):
                    raise _LostRace
            break
        except AlreadyUsed:
            log.warning("referral id or tracking reference already in use, drawn again")
            if draw == _DRAWS:
                raise
        except _LostRace:
            assert idempotency is not None
            async with unit_of_work() as referrals:
                earlier = await referrals.find_idempotent(org, *idempotency)
                assert earlier is not None
                return await _replay(referrals, earlier)
    _log_accepted(accepted)
    return Submitted(accepted.referral_id, accepted.tracking_reference)


async def store_self_referrals(
    unit_of_work: UnitOfWork, batch: list[tuple[AcceptedReferral, UUID]], *, topic: str
) -> list[tuple[AcceptedReferral, UUID]]:
    """Store a fetched batch of self-referrals in one transaction, each once (inbox by event
    id). Returns those whose referral id or reference was already taken by another referral:
    nothing of them is kept, and the caller dead-letters them."""
    async with unit_of_work() as referrals:
        first = await referrals.first_times([event_id for _, event_id in batch], topic)
        fresh = []
        for accepted, event_id in batch:
            if event_id in first:
                first.discard(event_id)  # an event repeated within the batch counts once
                fresh.append((accepted, event_id))
            else:
                log.info("self-referral already stored", event_id=str(event_id))
        kept = await referrals.add_many([accepted for accepted, _ in fresh])
        taken = [item for item, ok in zip(fresh, kept, strict=True) if not ok]
        if taken:
            await referrals.forget([event_id for _, event_id in taken])
    for (accepted, _), ok in zip(fresh, kept, strict=True):
        if ok:
            with correlation(accepted.received.correlation_id):
                _log_accepted(accepted)
    return taken


async def _replay(referrals: Referrals, referral_id: UUID) -> Submitted:
    stored = (await referrals.standing([referral_id]))[referral_id]
    log.info("idempotent replay", referral_id=str(referral_id))
    return Submitted(stored.referral_id, stored.tracking_reference, replayed=True)


def _log_accepted(accepted: AcceptedReferral) -> None:
    REFERRALS_ACCEPTED.labels(accepted.door, accepted.submission.service.value).inc()
    log.info(
        "referral accepted",
        referral_id=str(accepted.referral_id),
        tracking_reference=accepted.tracking_reference,
        door=accepted.door,
        source=accepted.source,
        service=accepted.submission.service.value,
    )
