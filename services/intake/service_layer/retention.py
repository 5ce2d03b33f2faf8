"""Patient details kept no longer than needed (DOMAIN.md, "Silences", last paragraph): a
finished referral's details are erased the directory's `retention.erase_details_after_days`
after it finished, and any referral's at once on request, each recorded in the audit log.
What happened (states, times, decisions, outcome) stays, and names nobody."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from intake.domain.lifecycle import FINAL, State
from intake.domain.tracking import canonical_tracking_reference
from intake.metrics import REFERRALS_ERASED
from intake.ports import AuditEntry, UnitOfWork
from intake.service_layer.lifecycle import NotFound
from shared.directory import Retention
from shared.logging import get_logger

log = get_logger(__name__)
ERASE_BATCH = 500
BY_RETENTION = "intake retention"


@dataclass(frozen=True)
class Erased:
    referral_id: UUID
    tracking_reference: str
    state: State
    already: bool  # erased before: nothing done, nothing recorded


class StillActive(Exception):
    """The referral is not finished: its details may still be needed to tell her."""

    def __init__(self, state: State) -> None:
        super().__init__(f"the referral is still {state.value}")
        self.state = state


async def erase_on_request(
    unit_of_work: UnitOfWork,
    reference: str,
    *,
    by: str,
    reason: str,
    now: datetime,
    force: bool = False,
) -> Erased:
    """Erase one referral's details (by id or tracking reference), recording who and why.
    Refuses one still active (StillActive) unless `force`d; raises NotFound."""
    if not by.strip() or not reason.strip():
        raise ValueError("an erasure names who asked for it and why")
    canonical = canonical_tracking_reference(reference) or reference.strip().lower()
    async with unit_of_work() as referrals:
        found = await referrals.locate(canonical)
        if found is None:
            raise NotFound(reference)
        if found.erased_at is not None:
            return Erased(found.referral_id, found.tracking_reference, found.state, True)
        active = found.state not in FINAL
        if active and not force:
            raise StillActive(found.state)
        await referrals.erase_details([found.referral_id], now)
        details = {"state": found.state.value, "forced_while_active": active}
        await referrals.audit(
            [AuditEntry(now, by.strip(), "erased", found.referral_id, reason.strip(), details)]
        )
    REFERRALS_ERASED.labels("request").inc()
    log.info(
        "referral details erased on request",
        referral_id=str(found.referral_id),
        state=found.state.value,
        forced=active,
    )
    return Erased(found.referral_id, found.tracking_reference, found.state, False)


async def erase_finished(
    unit_of_work: UnitOfWork, now: datetime, retention: Retention, *, limit: int = ERASE_BATCH
) -> int:
    """Erase the details of up to `limit` referrals finished longer ago than the retention
    says; several processes at once each take their own (SKIP LOCKED)."""
    keep = timedelta(days=retention.erase_details_after_days)
    why = f"finished more than {retention.erase_details_after_days} days ago"
    async with unit_of_work() as referrals:
        due = await referrals.finished_before(now - keep, limit)
        await referrals.erase_details(due, now)
        await referrals.audit(
            [AuditEntry(now, BY_RETENTION, "erased-by-retention", r, why, {}) for r in due]
        )
    if due:
        REFERRALS_ERASED.labels("retention").inc(len(due))
        log.info("finished referrals' details erased", count=len(due))
    return len(due)
