"""A person at triage decides what the rules could not: route the referral to a site of its
service, or return it to the referrer with a reason and where to go instead. The decision is
the router's to announce (it keeps every decision and its rules), so this checks what it can
here, where the referral stands, and hands the resolution over through the outbox
(`TriageResolved`), in one transaction: a resolution is kept exactly when it is sent."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from intake.domain.lifecycle import IllegalTransition, State
from intake.ports import UnitOfWork
from intake.service_layer.lifecycle import NotFound, UnknownReason
from shared.contracts import ServiceCode, TriageResolved
from shared.directory import Directory
from shared.logging import correlation, get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Resolution:
    route_to: str | None  # a site of the referral's service; None: returned to the referrer
    reason: str
    signposting: tuple[str, ...] = ()


async def resolve_at_triage(
    unit_of_work: UnitOfWork,
    directory: Directory,
    referral_id: UUID,
    resolution: Resolution,
    *,
    decided_by: str,
) -> TriageResolved:
    """Raises NotFound, IllegalTransition (it is not awaiting triage), or UnknownReason (a
    site its service does not have, or no reason given)."""
    reason = resolution.reason.strip()
    if not reason:
        raise UnknownReason("Say why, in words the referrer and she can follow.", "reason")
    async with unit_of_work() as referrals:
        now = (await referrals.standing([referral_id])).get(referral_id)
        if now is None:
            raise NotFound(referral_id)
        if now.state != State.NEEDS_TRIAGE:
            raise IllegalTransition(
                now.state, f"a referral that is {now.state} is not awaiting triage"
            )
        sites = {site.id for site in directory.services[ServiceCode(now.service)].sites}
        if resolution.route_to is not None and resolution.route_to not in sites:
            raise UnknownReason("route_to must be one of: " + ", ".join(sorted(sites)), "route_to")
        event = TriageResolved(
            correlation_id=now.correlation_id,
            referral_id=referral_id,
            tracking_reference=now.tracking_reference,
            service=ServiceCode(now.service),
            route_to=resolution.route_to,
            reason=reason,
            signposting=tuple(s.strip() for s in resolution.signposting if s.strip()),
            decided_by=decided_by,
        )
        await referrals.announce([event])
    with correlation(now.correlation_id):
        log.info(
            "triage resolved",
            referral_id=str(referral_id),
            route_to=resolution.route_to,
            by=decided_by,
        )
    return event
