"""An operator replays a dead letter after its cause was fixed: the original goes back to its
topic (consumers dedupe by event id), and who did it, and why, goes in the audit log."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from intake.ports import AuditEntry, DeadLetterDesk, UnitOfWork
from shared.dead_letters import Replayed
from shared.logging import get_logger

log = get_logger(__name__)


async def replay_dead_letter(
    desk: DeadLetterDesk,
    unit_of_work: UnitOfWork,
    event_id: UUID,
    *,
    by: str,
    reason: str,
    now: datetime,
) -> Replayed:
    """Replay one dead letter (ReplayRefused when it cannot be), recorded as `by`'s action."""
    if not by.strip() or not reason.strip():
        raise ValueError("a replay names who did it and why")
    replayed = await desk.replay(event_id)
    entry = AuditEntry(
        now, by.strip(), "replayed", replayed.referral_id, reason.strip(),
        {"dead_letter": str(event_id), "to": replayed.topic},
    )  # fmt: skip
    async with unit_of_work() as referrals:
        await referrals.audit([entry])
    log.info("dead letter replayed by a person", dead_letter=str(event_id), topic=replayed.topic)
    return replayed
